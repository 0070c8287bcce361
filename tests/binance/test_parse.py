"""Pure payload parsers, run on the recorded payload files in tests/payloads."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from v7d.binance.parse import (
    ParseError,
    algo_order_from_rest,
    balance_from_rest,
    balances_from_account,
    compact,
    income_from_rest,
    order_from_rest,
    position_from_rest,
    records_from_ws,
    symbols_from_exchange_info,
    trade_from_rest,
)
from v7d.store.records import (
    AlgoOrder,
    Balance,
    Order,
    OrderEvent,
    Position,
    StreamEvent,
    Trade,
)

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
ACCOUNT = "acct"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


class TestRest:
    def test_user_trade(self) -> None:
        """A userTrades item keeps every field, money as the exchange's strings."""
        d = load("rest_user_trade")
        t = trade_from_rest(ACCOUNT, d)
        assert (t.account, t.symbol, t.id, t.order_id) == (ACCOUNT, "BTCUSDT", 698759, 25851813)
        assert (t.side, t.position_side, t.maker, t.buyer) == ("SELL", "SHORT", False, False)
        assert (t.price, t.qty, t.quote_qty) == ("7819.01", "0.002", "15.63802")
        assert (t.realized_pnl, t.commission, t.commission_asset) == (
            "-0.91539999",
            "0.07819010",
            "USDT",
        )
        assert t.time == 1569514978020 and t.source == "rest"
        assert json.loads(t.raw) == d
        assert t.raw == compact(d)

    @pytest.mark.parametrize(
        ("name", "status", "executed"),
        [
            ("rest_order_filled", "FILLED", "0.002"),
            ("rest_order_canceled", "CANCELED", "0"),
            ("rest_order_trailing", "NEW", "0"),
        ],
    )
    def test_orders(self, name: str, status: str, executed: str) -> None:
        """allOrders items become Order versions with REST's times and exact strings."""
        d = load(name)
        o = order_from_rest(ACCOUNT, d)
        assert o.status == status and o.executed_qty == executed
        assert (o.order_id, o.time, o.update_time) == (d["orderId"], d["time"], d["updateTime"])
        assert (o.type, o.orig_type, o.cum_quote) == (d["type"], d["origType"], d["cumQuote"])
        assert o.reduce_only is False and o.close_position is False
        assert o.source == "rest" and json.loads(o.raw) == d

    @pytest.mark.parametrize(
        ("name", "income_type", "trade_id"),
        [
            ("rest_income_funding", "FUNDING_FEE", ""),
            ("rest_income_commission", "COMMISSION", "698759"),
            ("rest_income_realized_pnl", "REALIZED_PNL", "698759"),
            ("rest_income_transfer", "TRANSFER", ""),
        ],
    )
    def test_income(self, name: str, income_type: str, trade_id: str) -> None:
        """Income rows keep (incomeType, tranId) as their key and the signed amount."""
        d = load(name)
        i = income_from_rest(ACCOUNT, d)
        assert (i.income_type, i.tran_id, i.trade_id) == (income_type, d["tranId"], trade_id)
        assert i.income == d["income"] and i.symbol == d["symbol"] and i.time == d["time"]

    def test_algo_order(self) -> None:
        """An allAlgoOrders item is keyed by algoId with create/update times."""
        a = algo_order_from_rest(ACCOUNT, load("rest_algo_order"))
        assert (a.algo_id, a.symbol, a.status, a.order_type) == (
            2146760,
            "BNBUSDT",
            "CANCELED",
            "TAKE_PROFIT",
        )
        assert (a.trigger_price, a.quantity, a.time, a.update_time) == (
            "750.000",
            "0.01",
            1750485492076,
            1750514545091,
        )

    @pytest.mark.parametrize("name", ["rest_position_risk_v3", "rest_position_risk_v2"])
    def test_position(self, name: str) -> None:
        """positionRisk v3 and v2 items become Position snapshots."""
        d = load(name)
        p = position_from_rest(ACCOUNT, d)
        assert (p.symbol, p.position_amt, p.update_time) == (
            d["symbol"],
            d["positionAmt"],
            d["updateTime"],
        )
        assert p.mark_price == d["markPrice"] and p.source == "rest"

    def test_balances(self) -> None:
        """Account v3 assets and v2 balance items become Balance rows."""
        [b] = balances_from_account(ACCOUNT, load("rest_account_v3"))
        assert (b.asset, b.wallet_balance, b.available_balance) == (
            "USDT",
            "23.72469206",
            "23.72469206",
        )
        v2 = balance_from_rest(ACCOUNT, load("rest_balance_v2"))
        assert v2.wallet_balance == "122607.35137903" and v2.update_time == 1617939110373

    def test_exchange_info_symbols(self) -> None:
        """Every listed symbol becomes a SymbolInfo with its margin asset."""
        info = {
            "rateLimits": [],
            "symbols": [
                {
                    "symbol": "BTCUSDC",
                    "status": "TRADING",
                    "contractType": "PERPETUAL",
                    "quoteAsset": "USDC",
                    "marginAsset": "USDC",
                },
                {"symbol": "XUSDT", "status": "SETTLING", "contractType": "PERPETUAL"},
            ],
        }
        rows = symbols_from_exchange_info(ACCOUNT, info)
        assert [(r.symbol, r.status, r.margin_asset, r.listed) for r in rows] == [
            ("BTCUSDC", "TRADING", "USDC", True),
            ("XUSDT", "SETTLING", "", True),
        ]


class TestWs:
    def test_new_order(self) -> None:
        """A NEW event gives the raw event, an OrderEvent and an Order version, no trade."""
        m = load("ws_order_trade_update_new")
        recs = records_from_ws(ACCOUNT, m, 1569514978100)
        assert [type(r) for r in recs] == [StreamEvent, OrderEvent, Order]
        se, ev, order = recs
        assert isinstance(se, StreamEvent) and isinstance(ev, OrderEvent)
        assert isinstance(order, Order)
        assert (se.event_type, se.event_time, se.received_ms) == (
            "ORDER_TRADE_UPDATE",
            1569514978003,
            1569514978100,
        )
        assert json.loads(se.raw) == m
        assert (ev.execution_type, ev.status, ev.trade_id, ev.source) == ("NEW", "NEW", 0, "ws")
        assert (order.time, order.update_time) == (1569514978000, 1569514978000)
        assert (order.status, order.orig_qty, order.executed_qty, order.cum_quote) == (
            "NEW",
            "0.004",
            "0",
            "0",
        )

    def test_partial_fill_gives_a_trade(self) -> None:
        """A TRADE event carries the fill: a Trade with quote_qty = L × l exactly."""
        m = load("ws_order_trade_update_partial_fill")
        recs = records_from_ws(ACCOUNT, m, 1)
        trades = [r for r in recs if isinstance(r, Trade)]
        assert len(trades) == 1
        t = trades[0]
        assert (t.id, t.order_id, t.price, t.qty) == (698759, 25851813, "7819.01", "0.002")
        assert Decimal(t.quote_qty) == Decimal("7819.01") * Decimal("0.002")
        assert t.quote_qty == "15.63802"
        assert (t.commission, t.commission_asset, t.realized_pnl, t.maker) == (
            "0.07819010",
            "USDT",
            "-0.91539999",
            True,
        )
        assert t.time == 1569514978020 and t.source == "ws"
        order = next(r for r in recs if isinstance(r, Order))
        assert (order.status, order.executed_qty, order.cum_quote) == (
            "PARTIALLY_FILLED",
            "0.002",
            "15.63802",
        )

    def test_ws_trade_matches_rest_trade(self) -> None:
        """The stream's fill and REST's userTrades item agree on every money field."""
        ws = next(
            r
            for r in records_from_ws(ACCOUNT, load("ws_order_trade_update_partial_fill"), 1)
            if isinstance(r, Trade)
        )
        rest = trade_from_rest(ACCOUNT, load("rest_user_trade"))
        for field in ("symbol", "id", "order_id", "price", "qty", "quote_qty", "commission"):
            assert getattr(ws, field) == getattr(rest, field), field

    def test_liquidation_fill(self) -> None:
        """A CALCULATED (liquidation) event with a trade id is a fill too."""
        recs = records_from_ws(ACCOUNT, load("ws_order_trade_update_liquidation"), 1)
        [trade] = [r for r in recs if isinstance(r, Trade)]
        assert (trade.id, trade.qty, trade.quote_qty, trade.realized_pnl) == (
            699001,
            "0.500",
            "3750.00000",
            "-160.00000000",
        )
        order = next(r for r in recs if isinstance(r, Order))
        assert order.type == "LIQUIDATION" and order.reduce_only is True

    def test_expired_without_fill(self) -> None:
        """An EXPIRED event is an order version and an event, not a trade."""
        recs = records_from_ws(ACCOUNT, load("ws_order_trade_update_expired"), 1)
        assert [type(r) for r in recs] == [StreamEvent, OrderEvent, Order]
        order = recs[2]
        assert isinstance(order, Order)
        assert (order.status, order.executed_qty, order.cum_quote) == (
            "EXPIRED",
            "0.004",
            "31.27604",
        )

    def test_account_update(self) -> None:
        """ACCOUNT_UPDATE gives a Balance per asset and a Position per changed position."""
        recs = records_from_ws(ACCOUNT, load("ws_account_update"), 1)
        assert [type(r) for r in recs] == [StreamEvent, Balance, Position]
        bal, pos = recs[1], recs[2]
        assert isinstance(bal, Balance) and isinstance(pos, Position)
        assert (bal.asset, bal.wallet_balance, bal.cross_wallet_balance) == (
            "USDT",
            "122624.12345678",
            "100.12345678",
        )
        assert (pos.symbol, pos.position_amt, pos.entry_price, pos.update_time) == (
            "BTCUSDT",
            "-0.002",
            "7819.01000",
            1569514978020,
        )

    def test_account_update_funding_has_no_positions(self) -> None:
        """A cross funding update carries balances only."""
        recs = records_from_ws(ACCOUNT, load("ws_account_update_funding"), 1)
        assert [type(r) for r in recs] == [StreamEvent, Balance]

    def test_algo_update(self) -> None:
        """ALGO_UPDATE gives an AlgoOrder keyed by aid."""
        recs = records_from_ws(ACCOUNT, load("ws_algo_update"), 1)
        assert [type(r) for r in recs] == [StreamEvent, AlgoOrder]
        algo = recs[1]
        assert isinstance(algo, AlgoOrder)
        assert (algo.algo_id, algo.status, algo.trigger_price, algo.update_time) == (
            2148719,
            "CANCELED",
            "750.000",
            1750515742297,
        )

    @pytest.mark.parametrize("name", ["ws_trade_lite", "ws_listen_key_expired"])
    def test_raw_only_events(self, name: str) -> None:
        """TRADE_LITE and listenKeyExpired are kept raw, nothing else."""
        m = load(name)
        [se] = records_from_ws(ACCOUNT, m, 5)
        assert isinstance(se, StreamEvent)
        assert se.event_time == int(m["E"])  # listenKeyExpired.E is a string
        assert json.loads(se.raw) == m

    def test_unknown_event_kept_raw(self) -> None:
        """An event type v7d does not model is still kept as a StreamEvent."""
        m = {"e": "ACCOUNT_CONFIG_UPDATE", "E": 10, "T": 9, "ac": {"s": "BTCUSDT", "l": 25}}
        [se] = records_from_ws(ACCOUNT, m, 11)
        assert isinstance(se, StreamEvent) and se.event_type == "ACCOUNT_CONFIG_UPDATE"


class TestParseErrors:
    def test_bad_field_names_the_field(self) -> None:
        """A malformed amount raises ParseError naming the field, with the payload."""
        d = dict(load("rest_user_trade"), qty="abc")
        with pytest.raises(ParseError, match=r"userTrades\.qty") as info:
            trade_from_rest(ACCOUNT, d)
        assert info.value.payload == d

    def test_missing_id_is_an_error(self) -> None:
        """A row without its key is never invented a key."""
        d = load("rest_income_funding")
        del d["tranId"]
        with pytest.raises(ParseError, match="tranId"):
            income_from_rest(ACCOUNT, d)

    def test_bad_stream_message_keeps_its_raw_event(self) -> None:
        """A malformed ORDER_TRADE_UPDATE still yields its raw StreamEvent in the error."""
        m = load("ws_order_trade_update_new")
        m["o"]["i"] = "not-an-id"
        with pytest.raises(ParseError, match=r"\.o\.i") as info:
            records_from_ws(ACCOUNT, m, 1)
        [se] = info.value.records
        assert isinstance(se, StreamEvent) and json.loads(se.raw) == m

    @pytest.mark.parametrize("message", [[], {"E": 1}, {"e": 5}])
    def test_message_without_type(self, message: Any) -> None:
        """A message that is not an event object raises ParseError with nothing to keep."""
        with pytest.raises(ParseError) as info:
            records_from_ws(ACCOUNT, message, 1)
        assert info.value.records == []

    def test_booleans_are_not_integers(self) -> None:
        """JSON true is not accepted where an id belongs."""
        with pytest.raises(ParseError, match="orderId"):
            order_from_rest(ACCOUNT, dict(load("rest_order_filled"), orderId=True))
