"""Command-line entry points: ``v7d`` (daemon, demo) and ``v7ctl`` (control client)."""
