"""The listed universe (exchangeInfo) plus the account's special symbols.

Special symbols, always present and first in the active order: BTCUSDT (the busy one,
with the >1,000-fill sweep), ETHUSDT, BTCUSDC (USDC-margined), 1000PEPEUSDT (tiny prices,
huge quantities), SOLUSDT (holds a position, never trades: funding only), SRMUSDT
(delisted: history in REST, absent from exchangeInfo), BNBUSDT, then ordinary names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from v7d.sim.clock import DAY_MS
from v7d.sim.numbers import fmt

__all__ = ["SymbolSpec", "Universe", "build_universe"]

_BASES = [
    "XRP",
    "ADA",
    "DOGE",
    "LINK",
    "DOT",
    "LTC",
    "BCH",
    "AVAX",
    "TRX",
    "ATOM",
    "UNI",
    "ETC",
    "XLM",
    "FIL",
    "NEAR",
    "APT",
    "ARB",
    "OP",
    "SUI",
    "SEI",
    "INJ",
    "TIA",
    "AAVE",
    "MKR",
    "SNX",
    "CRV",
    "LDO",
    "RUNE",
    "ALGO",
    "SAND",
    "MANA",
    "AXS",
    "GALA",
    "APE",
    "IMX",
    "FET",
    "RNDR",
    "GRT",
    "STX",
    "EGLD",
    "FLOW",
    "KAVA",
    "ZEC",
    "DASH",
    "XMR",
    "COMP",
    "YFI",
    "SUSHI",
    "1INCH",
    "ENJ",
    "CHZ",
    "BAT",
    "ZIL",
    "IOTA",
    "ONT",
    "QTUM",
    "WAVES",
    "KSM",
    "NEO",
    "THETA",
    "VET",
    "HBAR",
    "ICP",
    "EOS",
    "XTZ",
]


@dataclass(frozen=True)
class SymbolSpec:
    """One contract: names, precisions, base price, and its role in the account."""

    name: str
    index: int
    base: str
    quote: str
    margin_asset: str
    contract_type: str
    status: str
    price_scale: int
    qty_scale: int
    base_price: int  # in ticks of 10**-price_scale
    lot: int  # typical order size, in qty steps
    listed: bool = True
    delisted_ms: int | None = None
    share: float = 0.0  # share of the account's trades
    holder: bool = False  # keeps a position, never trades

    @property
    def tick(self) -> str:
        """The tick size as a decimal string."""
        return fmt(1, self.price_scale)

    @property
    def step(self) -> str:
        """The quantity step as a decimal string."""
        return fmt(1, self.qty_scale)


@dataclass(frozen=True)
class Universe:
    """All symbols the simulator knows: listed ones and delisted ones with history."""

    symbols: tuple[SymbolSpec, ...]
    active: tuple[SymbolSpec, ...]

    def by_name(self) -> dict[str, SymbolSpec]:
        """Map of name to spec (listed and delisted)."""
        return {s.name: s for s in self.symbols}

    def listed(self) -> list[SymbolSpec]:
        """Symbols that exchangeInfo shows."""
        return [s for s in self.symbols if s.listed]


def _special(anchor_ms: int, days: int) -> list[dict[str, object]]:
    delist = anchor_ms - max(1, days // 3) * DAY_MS
    return [
        dict(name="BTCUSDT", base="BTC", quote="USDT", ps=1, qs=3, price=950000, lot=20),
        dict(name="ETHUSDT", base="ETH", quote="USDT", ps=2, qs=3, price=350000, lot=200),
        dict(name="BTCUSDC", base="BTC", quote="USDC", ps=1, qs=3, price=950100, lot=10),
        dict(
            name="1000PEPEUSDT",
            base="1000PEPE",
            quote="USDT",
            ps=7,
            qs=0,
            price=123456,
            lot=3_000_000,
        ),
        dict(
            name="SOLUSDT", base="SOL", quote="USDT", ps=2, qs=2, price=18000, lot=500, holder=True
        ),
        dict(
            name="SRMUSDT",
            base="SRM",
            quote="USDT",
            ps=4,
            qs=0,
            price=3000,
            lot=400,
            delisted=delist,
        ),
        dict(name="BNBUSDT", base="BNB", quote="USDT", ps=2, qs=2, price=60000, lot=50),
    ]


def build_universe(*, seed: int, listed: int, active: int, anchor_ms: int, days: int) -> Universe:
    """Build the deterministic universe for these counts (names, precisions, roles)."""
    rng = random.Random(f"v7d-sim/universe/{seed}")
    raw = _special(anchor_ms, days)
    n_special = len(raw)
    n_special_listed = sum(1 for r in raw if "delisted" not in r)
    for i in range(max(0, listed - n_special_listed)):
        base = _BASES[i] if i < len(_BASES) else f"SYN{i:04d}"
        ps = rng.choice((2, 3, 4, 5))
        quote = "USDC" if i % 11 == 5 else "USDT"  # some USDC-margined perpetuals too
        raw.append(
            dict(
                name=f"{base}{quote}",
                base=base,
                quote=quote,
                ps=ps,
                qs=max(0, 6 - ps - 1),
                price=rng.randint(10**ps, 900 * 10**ps),
                lot=rng.randint(5, 500),
            )
        )
    specs: list[SymbolSpec] = []
    for idx, r in enumerate(raw):
        specs.append(_spec(idx, r, rng, n_special))
    # a few delivery contracts, a few not TRADING, among the ordinary listed names
    n_act = min(active, len(specs))
    act = specs[:n_act]
    traders = [s for s in act if not s.holder]
    shares: dict[str, float] = {}
    if traders:
        first = 0.4 if len(traders) > 1 else 1.0
        rest = (1.0 - first) / max(1, len(traders) - 1)
        for i, s in enumerate(traders):
            shares[s.name] = first if i == 0 else rest
    final = tuple(
        SymbolSpec(**{**s.__dict__, "share": shares.get(s.name, 0.0)}) if s in act else s
        for s in specs
    )
    return Universe(symbols=final, active=final[:n_act])


def _spec(idx: int, r: dict[str, object], rng: random.Random, n_special: int) -> SymbolSpec:
    name = str(r["name"])
    contract, status = "PERPETUAL", "TRADING"
    ordinary = idx >= n_special
    if ordinary and idx % 37 == 0:
        contract, name = "CURRENT_QUARTER", f"{name}_261225"
    elif ordinary and idx % 41 == 0:
        contract, name = "NEXT_QUARTER", f"{name}_270326"
    if ordinary and idx % 29 == 0:
        status = rng.choice(("SETTLING", "PENDING_TRADING", "CLOSE"))
    delisted = r.get("delisted")
    return SymbolSpec(
        name=name,
        index=idx,
        base=str(r["base"]),
        quote=str(r["quote"]),
        margin_asset=str(r["quote"]),
        contract_type=contract,
        status=status,
        price_scale=int(r["ps"]),  # type: ignore[call-overload]
        qty_scale=int(r["qs"]),  # type: ignore[call-overload]
        base_price=int(r["price"]),  # type: ignore[call-overload]
        lot=int(r["lot"]),  # type: ignore[call-overload]
        listed=delisted is None,
        delisted_ms=int(delisted) if delisted is not None else None,  # type: ignore[call-overload]
        holder=bool(r.get("holder", False)),
    )
