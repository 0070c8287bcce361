"""Pure parsers: Binance USDⓈ-M payloads → :mod:`v7d.store.records`. No I/O.

One function per source, named for it (``order_from_rest``, ``records_from_ws`` …).
Money and quantities stay the exchange's exact decimal strings (checked to be decimals);
times are epoch ms; every record keeps its payload as compact JSON in ``raw``.

A payload that cannot be parsed raises :class:`ParseError` naming the field; the callers
log it with the raw payload and count it (``parse_errors``) — nothing is dropped
silently. For stream messages, ``ParseError.records`` still holds the raw
:class:`~v7d.store.records.StreamEvent`, so the message itself is kept even then.

Stream choices (DESIGN.md "Storage rules"):

- ORDER_TRADE_UPDATE gives a StreamEvent, an OrderEvent (``source="ws"``), an Order
  version and, for a fill (``x`` = TRADE, or CALCULATED — a liquidation fill — with a
  trade id), a Trade whose fields come from the event: ``t, L, l, n, N, m, rp`` and
  ``o.T``; ``quote_qty`` = L × l, exact.
- The Order version's ``update_time`` is the message's ``T`` (transaction time). Its
  ``time`` is that same ``T``: for the NEW event that *is* the creation time; for an
  order first seen mid-life it is the earliest moment v7d knows of, and the writer keeps
  the first stream ``time`` until REST supplies the real one.
- The stream has no ``cumQuote``; a stream version carries ``ap × z`` (exact product of
  the exchange's strings) until REST's own value replaces it.
- ACCOUNT_UPDATE gives Balance rows (``a.B``) and Position rows (``a.P``); fields the
  stream does not carry (mark price, notional, …) are "".
- ALGO_UPDATE gives an AlgoOrder; TRADE_LITE and listenKeyExpired only the StreamEvent
  (the ORDER_TRADE_UPDATE carries the fill; the stream client acts on the expiry).
"""

from __future__ import annotations

import builtins
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from v7d.store.records import (
    AlgoOrder,
    Balance,
    Income,
    Order,
    OrderEvent,
    Position,
    Record,
    StreamEvent,
    SymbolInfo,
    Trade,
)

__all__ = [
    "ParseError",
    "algo_order_from_rest",
    "algo_order_from_ws",
    "balance_from_rest",
    "balances_from_account",
    "compact",
    "income_from_rest",
    "order_from_rest",
    "position_from_rest",
    "records_from_ws",
    "symbols_from_exchange_info",
    "trade_from_rest",
]

_FILL_EXECUTIONS = frozenset({"TRADE", "CALCULATED"})


class ParseError(ValueError):
    """A payload v7d cannot turn into records; ``payload`` is what was received.

    ``records`` holds what could still be built (for a stream message: its raw
    StreamEvent) so the caller can store it before logging and counting the error.
    """

    def __init__(self, message: str, payload: Any, records: list[Record] | None = None) -> None:
        super().__init__(message)
        self.payload = payload
        self.records: list[Record] = records or []


def compact(d: Any) -> str:
    """The compact JSON text kept in ``raw``."""
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


# -- field readers ----------------------------------------------------------------------


class _Fields:
    """Typed reads from one payload dict; every failure is a ParseError naming the key."""

    def __init__(self, d: Any, what: builtins.str, root: Any = None) -> None:
        if not isinstance(d, dict):
            raise ParseError(f"{what}: expected an object, got {type(d).__name__}", root or d)
        self.d = d
        self.what = what
        self.root = root if root is not None else d

    def _fail(self, key: builtins.str, expected: builtins.str) -> ParseError:
        got = self.d.get(key, "<missing>")
        shown = repr(got)[:60]
        return ParseError(f"{self.what}.{key}: expected {expected}, got {shown}", self.root)

    def int(self, key: builtins.str, default: builtins.int | None = None) -> builtins.int:
        v = self.d.get(key)
        if v is None or v == "":
            if default is not None:
                return default
            raise self._fail(key, "an integer")
        if isinstance(v, bool):
            raise self._fail(key, "an integer")
        if isinstance(v, int):
            return v
        if isinstance(v, str):
            try:
                return int(v)
            except ValueError:
                pass
        raise self._fail(key, "an integer")

    def str(self, key: builtins.str, default: builtins.str | None = None) -> builtins.str:
        v = self.d.get(key)
        if v is None:
            if default is not None:
                return default
            raise self._fail(key, "a string")
        if isinstance(v, str):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        raise self._fail(key, "a string")

    def dec(self, key: builtins.str, default: builtins.str | None = None) -> builtins.str:
        """A decimal amount, kept as the exchange's string."""
        v = self.d.get(key)
        if v is None or v == "":
            if default is not None:
                return default
            raise self._fail(key, "a decimal string")
        if isinstance(v, bool):
            raise self._fail(key, "a decimal string")
        if isinstance(v, int | float):
            v = repr(v) if isinstance(v, float) else str(v)
        if isinstance(v, str):
            try:
                if Decimal(v).is_finite():
                    return v
            except InvalidOperation:
                pass
        raise self._fail(key, "a decimal string")

    def bool(self, key: builtins.str, default: builtins.bool | None = None) -> builtins.bool:
        v = self.d.get(key)
        if v is None:
            if default is not None:
                return default
            raise self._fail(key, "a boolean")
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        raise self._fail(key, "a boolean")


def _product(a: str, b: str) -> str:
    """a × b exactly, at the scale Binance uses for quoteQty (the sum of both scales).

    "7819.01" × "0.002" = "15.63802", as in the exchange's own ``quoteQty``.
    """
    return format(Decimal(a) * Decimal(b), "f")


def _value(a: str, b: str) -> str:
    """a × b exactly, trailing zeros dropped ("0" for zero): a stream order's cum_quote."""
    value = Decimal(a) * Decimal(b)
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


# -- REST -------------------------------------------------------------------------------


def trade_from_rest(account: str, d: dict[str, Any]) -> Trade:
    """A ``/fapi/v1/userTrades`` item."""
    f = _Fields(d, "userTrades")
    return Trade(
        account=account,
        symbol=f.str("symbol"),
        id=f.int("id"),
        order_id=f.int("orderId"),
        side=f.str("side"),
        position_side=f.str("positionSide", "BOTH"),
        price=f.dec("price"),
        qty=f.dec("qty"),
        quote_qty=f.dec("quoteQty"),
        realized_pnl=f.dec("realizedPnl", "0"),
        commission=f.dec("commission"),
        commission_asset=f.str("commissionAsset"),
        maker=f.bool("maker"),
        time=f.int("time"),
        source="rest",
        raw=compact(d),
        buyer=f.bool("buyer") if "buyer" in d else None,
    )


def order_from_rest(account: str, d: dict[str, Any]) -> Order:
    """A ``/fapi/v1/allOrders``, ``/order`` or ``/openOrders`` item."""
    f = _Fields(d, "order")
    order_type = f.str("type")
    return Order(
        account=account,
        symbol=f.str("symbol"),
        order_id=f.int("orderId"),
        client_order_id=f.str("clientOrderId", ""),
        side=f.str("side"),
        position_side=f.str("positionSide", "BOTH"),
        type=order_type,
        orig_type=f.str("origType", order_type),
        status=f.str("status"),
        time_in_force=f.str("timeInForce", ""),
        price=f.dec("price", "0"),
        avg_price=f.dec("avgPrice", "0"),
        stop_price=f.dec("stopPrice", "0"),
        orig_qty=f.dec("origQty"),
        executed_qty=f.dec("executedQty"),
        cum_quote=f.dec("cumQuote", "0"),
        reduce_only=f.bool("reduceOnly", False),
        time=f.int("time"),
        update_time=f.int("updateTime", f.int("time")),
        source="rest",
        raw=compact(d),
        close_position=f.bool("closePosition", False),
    )


def income_from_rest(account: str, d: dict[str, Any]) -> Income:
    """A ``/fapi/v1/income`` item (``tranId`` is unique only within its incomeType)."""
    f = _Fields(d, "income")
    return Income(
        account=account,
        symbol=f.str("symbol", ""),
        income_type=f.str("incomeType"),
        income=f.dec("income"),
        asset=f.str("asset"),
        info=f.str("info", ""),
        time=f.int("time"),
        tran_id=f.int("tranId"),
        trade_id=f.str("tradeId", ""),
        raw=compact(d),
    )


def algo_order_from_rest(account: str, d: dict[str, Any]) -> AlgoOrder:
    """A ``/fapi/v1/allAlgoOrders`` item."""
    f = _Fields(d, "allAlgoOrders")
    created = f.int("createTime")
    return AlgoOrder(
        account=account,
        algo_id=f.int("algoId"),
        symbol=f.str("symbol"),
        client_algo_id=f.str("clientAlgoId", ""),
        algo_type=f.str("algoType", ""),
        order_type=f.str("orderType"),
        side=f.str("side"),
        position_side=f.str("positionSide", "BOTH"),
        status=f.str("algoStatus"),
        quantity=f.dec("quantity", "0"),
        price=f.dec("price", "0"),
        trigger_price=f.dec("triggerPrice", "0"),
        time=created,
        update_time=f.int("updateTime", created),
        source="rest",
        raw=compact(d),
    )


def position_from_rest(account: str, d: dict[str, Any]) -> Position:
    """A ``/fapi/v3/positionRisk`` (or v2) item."""
    f = _Fields(d, "positionRisk")
    return Position(
        account=account,
        symbol=f.str("symbol"),
        position_side=f.str("positionSide", "BOTH"),
        position_amt=f.dec("positionAmt"),
        entry_price=f.dec("entryPrice", "0"),
        break_even_price=f.dec("breakEvenPrice", "0"),
        mark_price=f.dec("markPrice", "0"),
        unrealized_profit=f.dec("unRealizedProfit", "0"),
        liquidation_price=f.dec("liquidationPrice", "0"),
        notional=f.dec("notional", "0"),
        margin_asset=f.str("marginAsset", ""),
        update_time=f.int("updateTime", 0),
        source="rest",
        raw=compact(d),
    )


def balance_from_rest(account: str, d: dict[str, Any]) -> Balance:
    """An ``assets`` item of ``/fapi/v3/account``, or a ``/fapi/v2/balance`` item."""
    f = _Fields(d, "balance")
    wallet = f.dec("walletBalance") if "walletBalance" in d else f.dec("balance")
    return Balance(
        account=account,
        asset=f.str("asset"),
        wallet_balance=wallet,
        cross_wallet_balance=f.dec("crossWalletBalance", "0"),
        available_balance=f.dec("availableBalance", "0"),
        update_time=f.int("updateTime", 0),
        source="rest",
        raw=compact(d),
    )


def balances_from_account(account: str, d: dict[str, Any]) -> list[Balance]:
    """The Balance rows of a ``/fapi/v3/account`` answer (its ``assets``)."""
    f = _Fields(d, "account")
    assets = f.d.get("assets")
    if not isinstance(assets, list):
        raise ParseError("account.assets: expected a list", d)
    return [balance_from_rest(account, a) for a in assets]


def symbols_from_exchange_info(account: str, d: dict[str, Any]) -> list[SymbolInfo]:
    """The symbol registry rows of ``/fapi/v1/exchangeInfo`` (every listed symbol)."""
    f = _Fields(d, "exchangeInfo")
    symbols = f.d.get("symbols")
    if not isinstance(symbols, list):
        raise ParseError("exchangeInfo.symbols: expected a list", d)
    out = []
    for item in symbols:
        s = _Fields(item, "exchangeInfo.symbols[]", d)
        out.append(
            SymbolInfo(
                account=account,
                symbol=s.str("symbol"),
                status=s.str("status", ""),
                contract_type=s.str("contractType", ""),
                quote_asset=s.str("quoteAsset", ""),
                margin_asset=s.str("marginAsset", ""),
                listed=True,
                raw=compact(item),
            )
        )
    return out


# -- stream -----------------------------------------------------------------------------


def records_from_ws(account: str, message: dict[str, Any], received_ms: int) -> list[Record]:
    """The records of one user-data stream message: always its StreamEvent first."""
    if isinstance(message, dict) and "e" not in message and isinstance(message.get("data"), dict):
        message = message["data"]  # combined-stream wrapper {"stream": ..., "data": {...}}
    top = _Fields(message, "stream message")
    raw = compact(message)
    event_type = top.str("e")
    if not isinstance(message.get("e"), str) or not event_type:
        raise ParseError(f"stream message.e: expected an event type, got {event_type!r}", message)
    event_time = top.int("E", received_ms)
    stream_event = StreamEvent(account, event_type, event_time, received_ms, raw)
    parser = _WS_PARSERS.get(event_type)
    if parser is None:
        return [stream_event]
    try:
        return [stream_event, *parser(account, message, raw)]
    except ParseError as exc:
        exc.records = [stream_event]
        raise


# ORDER_TRADE_UPDATE: E event time, T transaction time, o the order:
#   s symbol · i orderId · c clientOrderId · S side · ps positionSide · o type · ot origType
#   x execution type (NEW, TRADE, CANCELED, CALCULATED, EXPIRED, AMENDMENT) · X status
#   f timeInForce · p price · ap avgPrice · sp stopPrice · q origQty · z cumulative filled
#   l / L last fill qty / price · t tradeId (0: none) · n / N commission / its asset
#   m maker · rp realized PnL of the fill · R reduceOnly · cp closePosition · T trade time
def _order_trade_update(account: str, m: dict[str, Any], raw: str) -> list[Record]:
    top = _Fields(m, "ORDER_TRADE_UPDATE")
    o = _Fields(m.get("o"), "ORDER_TRADE_UPDATE.o", m)
    event_time = top.int("E")
    tx_time = top.int("T", o.int("T", 0) or event_time)
    out: list[Record] = [
        OrderEvent(
            account=account,
            symbol=o.str("s"),
            order_id=o.int("i"),
            event_time=event_time,
            transaction_time=tx_time,
            execution_type=o.str("x"),
            status=o.str("X"),
            last_qty=o.dec("l", "0"),
            last_price=o.dec("L", "0"),
            cum_qty=o.dec("z", "0"),
            trade_id=o.int("t", 0),
            source="ws",
            raw=raw,
        ),
        _ws_order_version(account, o, tx_time, raw),
    ]
    if o.str("x") in _FILL_EXECUTIONS and o.int("t", 0) and Decimal(o.dec("l", "0")) != 0:
        out.append(_ws_fill(account, o, tx_time, raw))
    return out


def _ws_order_version(account: str, o: _Fields, tx_time: int, raw: str) -> Order:
    """The Order version an ORDER_TRADE_UPDATE describes (see the module docstring)."""
    order_type = o.str("o")
    cum_qty = o.dec("z", "0")
    avg_price = o.dec("ap", "0")
    return Order(
        account=account,
        symbol=o.str("s"),
        order_id=o.int("i"),
        client_order_id=o.str("c", ""),
        side=o.str("S"),
        position_side=o.str("ps", "BOTH"),
        type=order_type,
        orig_type=o.str("ot", order_type),
        status=o.str("X"),
        time_in_force=o.str("f", ""),
        price=o.dec("p", "0"),
        avg_price=avg_price,
        stop_price=o.dec("sp", "0"),
        orig_qty=o.dec("q"),
        executed_qty=cum_qty,
        cum_quote=_value(avg_price, cum_qty),
        reduce_only=o.bool("R", False),
        time=tx_time,
        update_time=tx_time,
        source="ws",
        raw=raw,
        close_position=o.bool("cp", False),
    )


def _ws_fill(account: str, o: _Fields, tx_time: int, raw: str) -> Trade:
    """The Trade carried by a fill event (x = TRADE or CALCULATED)."""
    price, qty = o.dec("L"), o.dec("l")
    return Trade(
        account=account,
        symbol=o.str("s"),
        id=o.int("t"),
        order_id=o.int("i"),
        side=o.str("S"),
        position_side=o.str("ps", "BOTH"),
        price=price,
        qty=qty,
        quote_qty=_product(price, qty),
        realized_pnl=o.dec("rp", "0"),
        commission=o.dec("n", "0"),
        commission_asset=o.str("N", ""),
        maker=o.bool("m", False),
        time=o.int("T", 0) or tx_time,
        source="ws",
        raw=raw,
        buyer=o.str("S") == "BUY",
    )


# ACCOUNT_UPDATE: a.m reason · a.B[] balances {a asset, wb wallet, cw cross wallet,
#   bc change} · a.P[] changed positions {s, ps, pa amount, ep entry, bep break-even,
#   up unrealized PnL, mt margin type, iw isolated wallet, cr accumulated realized}
def _account_update(account: str, m: dict[str, Any], raw: str) -> list[Record]:
    top = _Fields(m, "ACCOUNT_UPDATE")
    a = _Fields(m.get("a"), "ACCOUNT_UPDATE.a", m)
    when = top.int("T", top.int("E"))
    out: list[Record] = []
    for item in a.d.get("B") or ():
        b = _Fields(item, "ACCOUNT_UPDATE.a.B[]", m)
        out.append(
            Balance(
                account=account,
                asset=b.str("a"),
                wallet_balance=b.dec("wb"),
                cross_wallet_balance=b.dec("cw", "0"),
                available_balance="",
                update_time=when,
                source="ws",
                raw=compact(item),
            )
        )
    for item in a.d.get("P") or ():
        p = _Fields(item, "ACCOUNT_UPDATE.a.P[]", m)
        out.append(
            Position(
                account=account,
                symbol=p.str("s"),
                position_side=p.str("ps", "BOTH"),
                position_amt=p.dec("pa"),
                entry_price=p.dec("ep", "0"),
                break_even_price=p.dec("bep", "0"),
                mark_price="",
                unrealized_profit=p.dec("up", "0"),
                liquidation_price="",
                notional="",
                margin_asset="",
                update_time=when,
                source="ws",
                raw=compact(item),
            )
        )
    return out


# ALGO_UPDATE: o = {aid algoId, caid clientAlgoId, at algoType, o orderType, s, S, ps,
#   X status, q quantity, p price, tp trigger price, ai actual order id, R reduceOnly, ...}
def algo_order_from_ws(account: str, m: dict[str, Any]) -> AlgoOrder:
    """The AlgoOrder of an ALGO_UPDATE message (its ``T`` as both times; REST corrects)."""
    top = _Fields(m, "ALGO_UPDATE")
    o = _Fields(m.get("o"), "ALGO_UPDATE.o", m)
    when = top.int("T", top.int("E"))
    return AlgoOrder(
        account=account,
        algo_id=o.int("aid"),
        symbol=o.str("s"),
        client_algo_id=o.str("caid", ""),
        algo_type=o.str("at", ""),
        order_type=o.str("o"),
        side=o.str("S"),
        position_side=o.str("ps", "BOTH"),
        status=o.str("X"),
        quantity=o.dec("q", "0"),
        price=o.dec("p", "0"),
        trigger_price=o.dec("tp", "0"),
        time=when,
        update_time=when,
        source="ws",
        raw=compact(m),
    )


def _algo_update(account: str, m: dict[str, Any], raw: str) -> list[Record]:
    return [algo_order_from_ws(account, m)]


_WS_PARSERS = {
    "ORDER_TRADE_UPDATE": _order_trade_update,
    "ACCOUNT_UPDATE": _account_update,
    "ALGO_UPDATE": _algo_update,
}
