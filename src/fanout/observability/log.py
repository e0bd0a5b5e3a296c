"""The module-level Powertools logger and metrics (structured JSON logs, EMF metrics).

Metrics are flushed by ``@metrics.log_metrics`` when the handler returns, which the
deadline margin guarantees happens before the Lambda timeout.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "fanout")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "fanout"), service=SERVICE)

__all__ = ["SERVICE", "MetricUnit", "logger", "metrics", "single_metric"]
