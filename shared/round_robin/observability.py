"""The one place that creates the Powertools logger, metrics and tracer.

Names come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE set in template.yaml Globals.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
