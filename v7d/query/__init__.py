"""Query side: HistoryQueryAPI and statistics over read-only connections."""
