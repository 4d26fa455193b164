"""Tracing and the Lambda layer's contents."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from round_robin import observability

ROOT = Path(__file__).resolve().parents[2]


def test_tracing_stays_off_with_a_warning_when_the_xray_sdk_is_not_in_the_layer(monkeypatch, caplog):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.setitem(sys.modules, "aws_xray_sdk", None)  # as in the layer, which leaves it out

    tracer = observability._tracer()

    assert isinstance(tracer, observability.TracingOff)


def test_tracing_is_off_by_default_without_importing_the_xray_sdk(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert isinstance(observability._tracer(), observability.TracingOff)


def test_the_layer_installs_only_the_runtime_dependencies():
    lines = [line.split("#")[0].strip() for line in (ROOT / "shared/requirements.txt").read_text().splitlines()]
    names = {re.split(r"[<>=\[ ]", line)[0] for line in lines if line}
    assert names == {"requests", "aws-lambda-powertools", "tzdata"}
    assert not any("[" in line for line in lines), "no extras: [tracer] pulls in botocore, which Lambda already has"


def test_a_count_by_a_dimension_is_a_metric_line_of_its_own_and_none_when_metrics_are_off(monkeypatch, capsys):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    observability.count_by("AssignmentPostponed", "reason", "paced")
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["AssignmentPostponed"] == [1.0] and line["reason"] == "paced"
    assert ["reason"] in [d[:1] for d in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    observability.count_by("AssignmentPostponed", "reason", "paced")
    assert capsys.readouterr().out == ""
