"""The process's Prometheus counters and histograms, in one place so every layer counts alike.

Counters live in the process where the event happens (an API process counts requests, the
process supervising a render counts render time and failures); Prometheus scrapes every process
and sums. State that the database already knows (jobs by status, the queue, pending webhook
deliveries) is not counted here but read at scrape time (``jobs/projects/stats.py``), so every
process reports the same cluster-wide numbers, however many there are.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Histogram

#: Seconds: from a quick API call to a slow upload.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Seconds: from a 1 s lite clip to an hour-long pro render.
RENDER_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)

HTTP_SECONDS = Histogram("openlipsync_http_request_duration_seconds",
                         "API request latency by route template, method and status",
                         ["route", "method", "status"], buckets=HTTP_BUCKETS, registry=REGISTRY)
RENDER_SECONDS = Histogram("openlipsync_render_seconds",
                           "Wall time of finished renders (claim to settled), by generation mode",
                           ["mode"], buckets=RENDER_BUCKETS, registry=REGISTRY)
JOB_FAILURES = Counter("openlipsync_job_failures", "Jobs that ended in error (refunded), by error code",
                       ["code"], registry=REGISTRY)
JOBS_COMPLETED = Counter("openlipsync_jobs_completed", "Jobs that finished with an output, by mode",
                         ["mode"], registry=REGISTRY)
WEBHOOK_ATTEMPTS = Counter("openlipsync_webhook_attempts",
                           "Webhook delivery attempts by outcome (delivered, retrying, failed)",
                           ["outcome"], registry=REGISTRY)
CREDITS_CHARGED = Counter("openlipsync_credits_charged",
                          "Credits taken from balances for jobs (estimates at creation, extras at settling)",
                          registry=REGISTRY)
CREDITS_REFUNDED = Counter("openlipsync_credits_refunded",
                           "Credits given back: failed, canceled and over-estimated jobs", registry=REGISTRY)
