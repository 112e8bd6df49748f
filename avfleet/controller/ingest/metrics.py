"""Prometheus metrics of one controller process, in a registry of its own (no module-level state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter("avfleet_ingest_messages", "Agent messages committed to the database, by kind",
                                ["kind"], registry=r)
        self.duplicates = Counter("avfleet_ingest_duplicates", "Redelivered messages dropped by (agent_id, seq)",
                                  registry=r)
        self.rejected = Counter("avfleet_ingest_rejected", "Payloads refused (malformed, wrong topic, "
                                "agent-id mismatch)", ["reason"], registry=r)
        self.clock_skew = Counter("avfleet_ingest_clock_skew", "Agent timestamps too far in the future "
                                  "(beyond clock_skew_max_s), clamped to the receive time, by kind", ["kind"],
                                  registry=r)
        self.publish_failed = Counter("avfleet_ingest_publish_failed", "Outgoing messages (commands) not sent or "
                                      "not delivered, by reason", ["reason"], registry=r)
        self.batch_seconds = Histogram("avfleet_ingest_batch_seconds", "Time to apply and commit one batch",
                                       buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                       registry=r)
        self.batch_rows = Histogram("avfleet_ingest_batch_messages", "Messages per committed batch",
                                    buckets=(1, 10, 50, 100, 250, 500, 1000, 5000), registry=r)
        self.lag_seconds = Gauge("avfleet_ingest_lag_seconds", "Now minus the agent timestamp of the newest "
                                 "message in the last committed batch", registry=r)
        self.queue_depth = Gauge("avfleet_ingest_queue_depth", "Messages received but not yet committed",
                                 registry=r)
        self.commit_errors = Counter("avfleet_ingest_commit_errors", "Batches that failed to commit (retried, "
                                     "not acknowledged)", registry=r)
        self.connected = Gauge("avfleet_ingest_broker_connected", "1 while the ingest session is connected",
                               registry=r)
        self.agents_online = Gauge("avfleet_agents_online", "Agents whose last status is online", registry=r)
        self.agents_total = Gauge("avfleet_agents_total", "Agents known to the controller", registry=r)
