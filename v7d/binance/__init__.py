"""Exchange client: REST over ccxt, one rate budget, pure payload parsers, user-data stream.

Modules (import them directly; this package imports nothing so that ``import v7d.binance``
stays cheap — ccxt is only imported when a :class:`~v7d.binance.rest.BinanceRest` opens):

- ``budget``: :class:`RateBudget` and :class:`Priority`, one per process.
- ``errors``: :func:`map_exchange_error`, the one mapping to :mod:`v7d.errors`.
- ``retry``: :func:`call_with_retry`, the one retry policy.
- ``rest``: :class:`BinanceRest`, signed REST calls through ccxt's raw endpoint methods
  (``ccxt_client``: the ccxt subclass; ``hosts``: live/testnet/custom URLs).
- ``parse``: pure functions from payloads to :mod:`v7d.store.records`.
- ``stream``: :class:`UserStream`, the user-data WebSocket with its listenKey.
"""
