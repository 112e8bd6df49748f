"""The central service: ingest, fleet state, API, commands, broker configuration."""

__version__ = "0.1.0"
