"""Shared test configuration: no test may reach a real AWS account."""

import os

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "round-robin")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RoundRobinForZendesk")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
