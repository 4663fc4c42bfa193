"""Email a report: compose the message, send it over SMTP, keep an outbox."""
