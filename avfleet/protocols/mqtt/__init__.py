"""MQTT contract version 1: topic names and payload models. No I/O here."""
