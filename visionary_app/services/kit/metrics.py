"""Prometheus metrics of one worker process (`prometheus-client`), served at `/metrics`.

Each worker counts its own; a scrape of a worker sees that worker's figures (label targets by
worker, or scrape each). Nothing here carries a prompt, an owner or a secret.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "BLOB_STORE_ERRORS",
    "GALLERY_QUERY_SECONDS",
    "JOBS",
    "LIMIT_REFUSALS",
    "OPEN_TABS",
    "PROVIDER_ERRORS",
    "PROVIDER_SECONDS",
    "QUEUE_SECONDS",
    "REGISTRY",
]

REGISTRY = CollectorRegistry()
_TIMES = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

JOBS = Counter("visionary_jobs", "Jobs that ended, by outcome.", ["outcome"], registry=REGISTRY)
QUEUE_SECONDS = Histogram(
    "visionary_job_queue_seconds",
    "Time a job waited for its turn.",
    buckets=_TIMES,
    registry=REGISTRY,
)
PROVIDER_SECONDS = Histogram(
    "visionary_provider_seconds",
    "Time the provider took per call.",
    buckets=_TIMES,
    registry=REGISTRY,
)
PROVIDER_ERRORS = Counter(
    "visionary_provider_errors",
    "Provider calls that failed, by kind.",
    ["kind"],
    registry=REGISTRY,
)
SPEND = Counter(
    "visionary_spend_usd",
    "Money the providers' calls cost, settled from the usage they reported, by model.",
    ["provider", "model"],
    registry=REGISTRY,
)
LIMIT_REFUSALS = Counter(
    "visionary_limit_refusals",
    "Requests refused by a cap or cost limit, by what was asked.",
    ["action"],
    registry=REGISTRY,
)
GALLERY_QUERY_SECONDS = Histogram(
    "visionary_gallery_query_seconds",
    "Time of one gallery page query (index only).",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)
BLOB_STORE_ERRORS = Counter(
    "visionary_blob_store_errors", "Blob store operations that failed.", registry=REGISTRY
)
OPEN_TABS = Gauge(
    "visionary_open_tabs", "Browser tabs connected to this worker.", registry=REGISTRY
)
DB_STATEMENTS = Counter(
    "visionary_db_statements",
    "SQL statements this worker sent to the index database.",
    registry=REGISTRY,
)
LIVE_UPDATE_SECONDS = Histogram(
    "visionary_live_update_seconds",
    "Time to bring every tab of this worker up to date with the changes that arrived"
    " together, by kind (a pass of several kinds counts under each).",
    ["kind"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
