"""Spikes: the rolling-baseline detector, and the bucket series a report runs it on."""
