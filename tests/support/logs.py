"""Capturing the service's structured (Powertools) log lines in a test."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from round_robin.observability import logger


class JsonLogs:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def find(self, fragment: str) -> dict[str, Any]:
        return next(line for line in self.lines() if fragment in line["message"])


@contextmanager
def captured_logs() -> Iterator[JsonLogs]:
    """Every line the service logs while the block runs, formatted as in CloudWatch."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield JsonLogs(stream)
    finally:
        logger.removeHandler(handler)
