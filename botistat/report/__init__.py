"""A report from metric partials: options, assembly into the frozen Report, its plain-data
document, comparison with a previous period, and thresholds."""
