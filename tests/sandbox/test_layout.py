"""The sandbox stays split into small modules (one per Zendesk resource, plus state, routing, limits and
controls): a file that grows past 300 lines is a concern that wants its own module."""

from __future__ import annotations

from pathlib import Path

import round_robin_local.sandbox

MAX_LINES = 300
SANDBOX = Path(round_robin_local.sandbox.__file__).parent


def test_no_sandbox_file_is_over_300_lines():
    sizes = {path.name: len(path.read_text().splitlines()) for path in SANDBOX.glob("*.py")}
    assert len(sizes) > 10  # the package was found, split
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
