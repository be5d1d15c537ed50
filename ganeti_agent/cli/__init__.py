"""Command-line tools that work without the daemon."""
