"""The one place that creates the Powertools logger, metrics and tracer.

Names come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE set in template.yaml Globals.

The tracer is Powertools' Tracer only when X-Ray subsegments are on (POWERTOOLS_TRACE_DISABLED=false, the
template's `XRaySubsegments` parameter): Powertools' Tracer imports the X-Ray SDK even when disabled, about
150 ms of every cold start (see bench/). With it off, Lambda's active tracing still records each invocation.
The layer does not ship the X-Ray SDK (35 MB with botocore); subsegments need `aws-xray-sdk` added to
shared/requirements.txt, and without it tracing stays off with one warning.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()
metrics = Metrics()


class TracingOff:
    """Stands in for Powertools' Tracer when tracing is off: its decorators leave functions as they are."""

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, **_options: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def capture_method(self, method: Callable | None = None, **_options: Any) -> Any:
        return method if method is not None else (lambda function: function)


def _tracer() -> Any:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on"):
        return TracingOff()
    try:
        import aws_xray_sdk  # noqa: F401, PLC0415 - only when tracing is on (cold-start cost)
    except ImportError:
        logger.warning("X-Ray subsegments are on but aws-xray-sdk is not installed: add it to "
                       "shared/requirements.txt; tracing stays off")
        return TracingOff()
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on (cold-start cost)

    return Tracer()


tracer = _tracer()

def count_by(name: str, dimension: str, value: str) -> None:
    """Count one `name` with a dimension of its own (an EMF line of its own, written now), so that the other metrics
    of the batch keep theirs; nothing when metrics are off (POWERTOOLS_METRICS_DISABLED, as the demo sets)."""
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name=dimension, value=value)


__all__ = ["MetricUnit", "count_by", "logger", "metrics", "tracer"]
