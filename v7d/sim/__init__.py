"""v7d-sim: a Binance USDⓈ-M futures simulator (REST + user-data stream) with fault injection."""
