"""Exchange client: ccxt-based REST transport, rate budget, pure payload parsers, user-data stream."""
