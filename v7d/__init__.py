"""v7d: a durable local history of Binance USDⓈ-M futures accounts.

The public in-process surface is :class:`HistoryQueryAPI` (``from v7d import
HistoryQueryAPI``). It is imported lazily so that ``import v7d`` stays cheap for the
daemon's start-up path and for the command-line tools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["HistoryQueryAPI", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from v7d.query.api import HistoryQueryAPI


def __getattr__(name: str) -> Any:
    if name == "HistoryQueryAPI":
        from v7d.query.api import HistoryQueryAPI

        return HistoryQueryAPI
    raise AttributeError(f"module 'v7d' has no attribute {name!r}")
