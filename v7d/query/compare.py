"""``compare``: two summaries side by side with absolute and relative deltas.

The deltas cover the headline figures an agent checks after changing a parameter: per
margin asset the money figures, closing-order results and drawdown; overall the
execution-quality rates. ``abs`` is ``b - a``; ``rel`` is ``(b - a) / |a|`` (null when
``a`` is zero or either side is missing).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from v7d.query.numbers import dec_str, ratio_str

__all__ = ["ASSET_KEYS", "CLOSING_KEYS", "EXECUTION_KEYS", "delta", "deltas"]

ASSET_KEYS = (
    "trades", "realized_pnl", "commission", "funding", "net_pnl", "turnover", "fee_drag",
    "fee_bps", "maker_share_qty", "maker_share_fee",
)  # fmt: skip
CLOSING_KEYS = (
    "closing_orders", "win_rate", "avg_win", "avg_loss", "profit_factor", "expectancy",
)  # fmt: skip
EXECUTION_KEYS = ("orders", "fill_rate", "fill_ratio", "cancel_rate")


def _num(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


def delta(a: Any, b: Any) -> dict[str, Any]:
    """``{"a", "b", "abs", "rel"}`` for two figures (numbers or decimal strings)."""
    da, db = _num(a), _num(b)
    if da is None or db is None:
        return {"a": a, "b": b, "abs": None, "rel": None}
    return {"a": a, "b": b, "abs": dec_str(db - da), "rel": ratio_str(db - da, abs(da))}


def _block(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: delta(a.get(k), b.get(k)) for k in keys}


def _per_asset(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {asset: _block(a.get(asset, {}), b.get(asset, {}), keys) for asset in sorted({*a, *b})}


def deltas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The ``deltas`` block comparing summaries ``a`` and ``b``."""
    ea, eb = a["execution"], b["execution"]
    execution = _block(ea, eb, EXECUTION_KEYS)
    for key in ("time_to_first_fill_ms", "time_to_full_fill_ms"):
        execution[key] = delta(ea[key]["mean"], eb[key]["mean"])
    execution["slippage_bps"] = delta(ea["slippage_bps"]["mean"], eb["slippage_bps"]["mean"])
    dd = {
        asset: {
            "max_drawdown": delta(
                a["drawdown"].get(asset, {}).get("max_drawdown"),
                b["drawdown"].get(asset, {}).get("max_drawdown"),
            )
        }
        for asset in sorted({*a["drawdown"], *b["drawdown"]})
    }
    return {
        "assets": _per_asset(a["assets"], b["assets"], ASSET_KEYS),
        "closing": _per_asset(a["closing"], b["closing"], CLOSING_KEYS),
        "drawdown": dd,
        "execution": execution,
    }
