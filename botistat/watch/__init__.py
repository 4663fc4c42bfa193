"""``botistat watch``: the live monitor, its file watcher, sinks and terminal view."""
