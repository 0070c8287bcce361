"""Sync engine: backfill planner, incremental poller, live stream ingest, reconciler."""
