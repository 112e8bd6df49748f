"""The central service: ingest, fleet state, API, commands, broker configuration."""
