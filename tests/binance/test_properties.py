"""Properties over many generated inputs: exact fill values, secrets never shown."""

from __future__ import annotations

import json
import string
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from v7d.binance.errors import map_exchange_error, redact
from v7d.binance.parse import records_from_ws
from v7d.store.records import Order, Trade

decimals = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("99999999"), places=8
).map(lambda d: format(d.normalize(), "f"))
keys = st.text(alphabet=string.ascii_letters + string.digits, min_size=60, max_size=64)


def fill_message(price: str, qty: str, trade_id: int) -> dict[str, object]:
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": 1700000000005,
        "T": 1700000000000,
        "o": {
            "s": "BTCUSDT", "c": "x", "S": "BUY", "o": "LIMIT", "f": "GTC", "q": qty,
            "p": price, "ap": price, "sp": "0", "x": "TRADE", "X": "FILLED", "i": 7,
            "l": qty, "z": qty, "L": price, "N": "USDT", "n": "0.1", "T": 1700000000000,
            "t": trade_id, "m": False, "R": False, "ot": "LIMIT", "ps": "BOTH", "cp": False,
            "rp": "0",
        },
    }  # fmt: skip


class TestFillValues:
    @settings(max_examples=200, deadline=None)
    @given(price=decimals, qty=decimals, trade_id=st.integers(1, 2**62))
    def test_quote_qty_is_exactly_price_times_qty(
        self, price: str, qty: str, trade_id: int
    ) -> None:
        """A stream fill's quote_qty equals L × l exactly, in plain notation, never rounded."""
        records = records_from_ws("a", fill_message(price, qty, trade_id), 1)
        [trade] = [r for r in records if isinstance(r, Trade)]
        [order] = [r for r in records if isinstance(r, Order)]
        assert "E" not in trade.quote_qty and "e" not in trade.quote_qty
        assert Decimal(trade.quote_qty) == Decimal(price) * Decimal(qty)
        assert Decimal(order.cum_quote) == Decimal(price) * Decimal(qty)
        assert (trade.price, trade.qty, trade.id) == (price, qty, trade_id)
        assert json.loads(trade.raw)["o"]["t"] == trade_id


class TestSecrets:
    @settings(max_examples=200, deadline=None)
    @given(key=keys, signature=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
    def test_redact_hides_keys_and_signatures(self, key: str, signature: str) -> None:
        """Whatever the key, a stream URL or a signed query in a message is cut back."""
        text = (
            f"GET http://h:1/fapi/v1/userTrades?timestamp=1&signature={signature} failed; "
            f"wss://fstream.binance.com/private/ws/{key} closed; listenKey={key}"
        )
        shown = redact(text)
        assert key not in shown and signature not in shown
        err = map_exchange_error(ConnectionResetError(text))
        assert key not in str(err) and signature not in str(err)
