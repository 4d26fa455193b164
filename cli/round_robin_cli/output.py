"""What a command prints: a human text by default, its data as JSON with --json."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Output:
    data: Any  # printed with --json
    text: str  # printed otherwise


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *,
          formats: dict[str, Callable[[Any], str]] | None = None) -> str:
    """Aligned columns under an upper-case header; `formats` turns a column's values into text."""
    formats = formats or {}
    cells = [[formats.get(c, _cell)(row.get(c)) for c in columns] for row in rows]
    header = [c.replace("_", " ").upper() for c in columns]
    widths = [max(len(h), *(len(line[i]) for line in cells)) for i, h in enumerate(header)]
    lines = [header, *cells]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None or value == "" or value == [] or value == ():
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def render(output: Output, as_json: bool) -> str:
    return json.dumps(output.data, indent=2, default=str) if as_json else output.text


def one_line(message: str) -> str:
    """A message on one line (an error line must not be split by a library's multi-line text)."""
    return " ".join(message.split())
