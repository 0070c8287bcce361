"""SQLite storage: schema and migrations, the single writer, read-only connections.

See ``docs/storage.md`` for the tables and the rules they keep.
"""

from v7d.store.db import open_database
from v7d.store.read import QueryTimeout, StoreReader, connect_readonly, timed
from v7d.store.records import BatchResult, CoverageMark, CursorMove, WriteBatch
from v7d.store.schema import SCHEMA_VERSION, migrate
from v7d.store.writer import Writer

__all__ = [
    "SCHEMA_VERSION",
    "BatchResult",
    "CoverageMark",
    "CursorMove",
    "QueryTimeout",
    "StoreReader",
    "WriteBatch",
    "Writer",
    "connect_readonly",
    "migrate",
    "open_database",
    "timed",
]
