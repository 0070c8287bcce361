"""Starlette apps: the query app (TCP + Unix socket) and the control app (Unix socket only)."""
