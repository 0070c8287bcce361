"""Process supervision for ``v7d run``: sockets, servers, signals, sd_notify, the phases.

Each part is a small module with one job; :mod:`v7d.daemon` wires them together.
"""
