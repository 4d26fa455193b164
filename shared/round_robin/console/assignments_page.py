"""The console's Assignments page (`/admin/assignments`), its CSV export (`/admin/assignments.csv`) and the
per-agent chart of the last 14 days (SVG, drawn here: no script, no CDN).

The log is the table's `gsi2` index (round_robin/table.py): every ticket of the account by the time of its last
outcome (assigned, waiting, skipped, parked, failed), newest first, over the records' whole 90-day life. Filters:
outcome, group, agent, a date range (UTC days) and a ticket id; an agent's rows are that agent's own index (`gsi3`),
the outcome and group are applied by DynamoDB after the read (claims.py `log_page`), the dates are the index's key
range, a ticket id is one GetItem. Reads ask for the columns shown only (table.py LOG_COLUMNS; the chart for fewer).
Pages go on from a cursor (the last row shown: its time and ticket id, always within the signed-in account's own
partition). The account is always the signed-in one, passed in by the caller.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from round_robin.assignment.claims import ASSIGNED, LOGGED
from round_robin.assignment.rotation import ACCOUNT_WIDE
from round_robin.availability.errors import InvalidInputError
from round_robin.availability.validation import parse_date
from round_robin.console.fragments import esc, href, message, table, when
from round_robin.table import LOG_COLUMNS

PATH = "/admin/assignments"
CSV_PATH = "/admin/assignments.csv"
PAGE_SIZE = 50
EXPORT_BATCH = 1000  # rows a read of the export and the chart
EXPORT_MAX_ROWS = 20_000  # a CSV export at most (about 3 MB: within Lambda's 6 MB answer); narrow the dates for more
RETENTION_DAYS = 90  # claims.RECORD_TTL: the log covers what DynamoDB keeps
CHART_DAYS = 14
CHART_AGENTS = 20  # the chart shows the agents with the most assignments; the rest are counted below it
CHART_COLUMNS = ("agent_id", "agent_name", "logged")  # what the chart reads of each row (and the time, the id)
CSV_COLUMNS = ("time", "ticket_id", "ticket_url", "group", "agent_id", "agent", "outcome", "reason", "attempts")
_CURSOR = re.compile(r"(\d{1,12}(?:\.\d{1,6})?)_(\d{1,20})")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads these as a formula (CSV injection)


class Log(Protocol):
    def log_page(self, subdomain: str, *, since: float, until: float, after: tuple[float, int] | None = None,
                 outcome: str | None = None, group_id: str | None = None, agent_id: int | None = None,
                 limit: int = 50, read_size: int = 500, columns: tuple[str, ...] = LOG_COLUMNS,
                 ) -> tuple[list[dict[str, Any]], tuple[float, int] | None]: ...

    def get(self, subdomain: str, ticket_id: int) -> dict[str, Any] | None: ...


class Rosters(Protocol):
    def group_names(self, subdomain: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class LogFilter:
    """The filters of a view of the log, checked."""

    outcome: str | None = None
    group: str | None = None
    agent: int | None = None
    first_day: str | None = None  # YYYY-MM-DD, UTC, inclusive
    last_day: str | None = None
    ticket: int | None = None
    after: tuple[float, int] | None = None  # the cursor: the last row of the previous page

    def query(self, **changes: Any) -> dict[str, Any]:
        """The filters as query-string parameters (for links), with `changes` applied."""
        kept = replace(self, **changes)
        return {"outcome": kept.outcome, "group": kept.group, "agent": kept.agent, "from": kept.first_day,
                "to": kept.last_day, "ticket": kept.ticket,
                "after": f"{kept.after[0]:.3f}_{kept.after[1]}" if kept.after else None}

    def window(self, now: float) -> tuple[float, float]:
        """The time range [since, until) the dates ask for, within the retention."""
        oldest = now - RETENTION_DAYS * 86400
        since = _day_start(self.first_day) if self.first_day else oldest
        until = _day_start(self.last_day) + 86400 if self.last_day else now + 1
        return max(since, oldest), until


def parse_filter(query: Mapping[str, str]) -> LogFilter:
    """The filters of a query string; InvalidInputError names the first bad one."""
    outcome = _text(query, "outcome").lower() or None
    if outcome is not None and outcome not in LOGGED:
        raise InvalidInputError(f"outcome must be one of {', '.join(LOGGED)}, got {outcome[:40]!r}")
    group = _text(query, "group") or None
    if group is not None and group != ACCOUNT_WIDE and not (group.isascii() and group.isdigit()):
        raise InvalidInputError(f"group must be a Zendesk group id, got {group[:40]!r}")
    agent = _id(query, "agent")
    first = parse_date(_text(query, "from"), "from") if _text(query, "from") else None
    last = parse_date(_text(query, "to"), "to") if _text(query, "to") else None
    if first and last and last < first:
        raise InvalidInputError(f"the date range ends ({last}) before it starts ({first})")
    after = None
    cursor = _text(query, "after")
    if cursor:
        match = _CURSOR.fullmatch(cursor)
        if match is None:
            raise InvalidInputError("the page link is not one this console made: start again from the newest")
        after = (float(match.group(1)), int(match.group(2)))
    return LogFilter(outcome, group, agent, first, last, _id(query, "ticket"), after)


def _text(query: Mapping[str, str], name: str) -> str:
    return str(query.get(name, "") or "").strip()


def _id(query: Mapping[str, str], name: str) -> int | None:
    text = _text(query, name).lstrip("#")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 10**15:
        label = "ticket" if name == "ticket" else name
        raise InvalidInputError(f"{label} must be a Zendesk id (a whole number), got {text[:40]!r}")
    return int(text)


def _day_start(day: str) -> float:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp()


@dataclass(frozen=True)
class LogRow:
    """One line of the log."""

    at: float
    ticket_id: int
    group_id: str
    group: str
    agent_id: int | None
    agent: str
    outcome: str
    reason: str
    attempts: int


def _row(record: Mapping[str, Any], groups: Mapping[str, str]) -> LogRow:
    group_id = str(record.get("group_id", "") or "")
    agent_id = record.get("agent_id")
    outcome = str(record.get("logged", ""))
    return LogRow(float(record.get("logged_at", 0)), int(record["ticket_id"]), group_id,
                  groups.get(group_id, group_id), int(agent_id) if agent_id is not None and outcome == ASSIGNED
                  else None, str(record.get("agent_name", "")) if outcome == ASSIGNED else "", outcome,
                  str(record.get("reason", "")), int(record.get("attempts", 0)))


def ticket_url(subdomain: str, ticket_id: int) -> str:
    """The ticket in Zendesk's agent interface."""
    return f"https://{subdomain}.zendesk.com/agent/tickets/{ticket_id}"


class AssignmentsPage:
    """Reads and renders an account's log, its CSV and its chart (see the module docstring)."""

    def __init__(self, *, log: Log, rosters: Rosters) -> None:
        self._log = log
        self._rosters = rosters

    def page(self, subdomain: str, asked: LogFilter, now: float, size: int = PAGE_SIZE,
             groups: Mapping[str, str] | None = None,
             columns: tuple[str, ...] = LOG_COLUMNS) -> tuple[list[LogRow], LogFilter | None]:
        """One page of `size` rows, newest first, and the filter of the next page (None: this is the last).
        `groups`: the group names, when the caller has read them already (one read a view, not one a page);
        `columns`: the fields read (the others are left empty in the rows: the chart needs only a few)."""
        groups = self._group_names(subdomain) if groups is None else groups
        if asked.ticket is not None:
            record = self._log.get(subdomain, asked.ticket)
            return ([_row(record, groups)] if record is not None and self._matches(record, asked, now) else []), None
        since, until = asked.window(now)
        records, after = self._log.log_page(subdomain, since=since, until=until, after=asked.after,
                                            outcome=asked.outcome, group_id=asked.group, agent_id=asked.agent,
                                            limit=size, columns=columns)
        return [_row(r, groups) for r in records], replace(asked, after=after) if after else None

    def rows(self, subdomain: str, asked: LogFilter, now: float, columns: tuple[str, ...] = LOG_COLUMNS,
             groups: Mapping[str, str] | None = None) -> Iterator[LogRow]:
        """Every row of the view (from its cursor on), newest first: the CSV export and the chart. `groups`: the
        group names (read here when not given; the chart, which shows none, gives none)."""
        view: LogFilter | None = asked
        groups = self._group_names(subdomain) if groups is None else groups
        while view is not None:
            rows, view = self.page(subdomain, view, now, EXPORT_BATCH, groups, columns)
            yield from rows

    def render(self, subdomain: str, query: Mapping[str, str], now: float) -> tuple[int, str]:
        """The page's status and body (HTML): 400 with the message and the unfiltered log for a bad filter."""
        error = None
        try:
            asked = parse_filter(query)
        except InvalidInputError as exc:
            asked, error = LogFilter(), str(exc)
        groups = self._group_names(subdomain)
        rows, following = self.page(subdomain, asked, now, groups=groups)
        chart_link = href(PATH, {**asked.query(after=None), "chart": "1"})
        body = [message(error, "error"), _filters(asked, groups),
                f'<p class="actions"><a href="{href(CSV_PATH, asked.query(after=None))}">Export these rows as CSV</a>'
                f' <span class="muted">(the newest {EXPORT_MAX_ROWS:,} at most)</span>'
                f' <a href="{chart_link}#chart">Assignments per agent per day, last {CHART_DAYS} days</a></p>',
                _log_table(subdomain, rows), _pager(asked, following)]
        if query.get("chart") == "1":  # on demand: it reads two weeks of the log, so the log's pages stay fast
            body += [f'<h2 id="chart">Assignments per agent per day, last {CHART_DAYS} days (UTC)</h2>',
                     chart_svg(self.per_agent_day(subdomain, replace(asked, after=None), now), now)]
        return (400 if error else 200), "\n".join(p for p in body if p)

    def csv(self, subdomain: str, query: Mapping[str, str], now: float) -> str:
        """Every row of the filtered view as CSV (a bad filter raises InvalidInputError: nothing exported)."""
        asked = replace(parse_filter(query), after=None)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for row in itertools.islice(self.rows(subdomain, asked, now), EXPORT_MAX_ROWS):
            writer.writerow([csv_cell(v) for v in (
                datetime.fromtimestamp(row.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), row.ticket_id,
                ticket_url(subdomain, row.ticket_id), row.group, row.agent_id or "", row.agent, row.outcome,
                row.reason, row.attempts)])
        return out.getvalue()

    def per_agent_day(self, subdomain: str, asked: LogFilter, now: float) -> dict[str, list[int]]:
        """Assignments per agent per UTC day of the last CHART_DAYS days (oldest day first), for the view's group
        and agent; agents by name."""
        today = datetime.fromtimestamp(now, UTC).date()
        first = today - timedelta(days=CHART_DAYS - 1)
        window = replace(asked, outcome=ASSIGNED, first_day=first.isoformat(), last_day=today.isoformat(),
                         ticket=None, after=None)
        counts: dict[str, list[int]] = {}
        for row in self.rows(subdomain, window, now, CHART_COLUMNS, groups={}):
            day = (datetime.fromtimestamp(row.at, UTC).date() - first).days
            if 0 <= day < CHART_DAYS:
                name = row.agent or str(row.agent_id or "?")
                counts.setdefault(name, [0] * CHART_DAYS)[day] += 1
        return counts

    def _group_names(self, subdomain: str) -> dict[str, str]:
        return self._rosters.group_names(subdomain)

    @staticmethod
    def _matches(record: Mapping[str, Any], asked: LogFilter, now: float) -> bool:
        """Whether one record (found by its ticket id) is in the view."""
        since, until = asked.window(now)
        return ("logged" in record and since <= float(record.get("logged_at", 0)) < until
                and asked.outcome in (None, record["logged"]) and asked.group in (None, str(record.get("group_id")))
                and asked.agent in (None, record.get("agent_id")))


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab, a return) gets a quote first
    (OWASP, "CSV Injection")."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _filters(asked: LogFilter, groups: Mapping[str, str]) -> str:
    outcomes = '<option value="">any</option>' + "".join(
        f'<option{" selected" if o == asked.outcome else ""}>{o}</option>' for o in LOGGED)
    group_options = '<option value="">any</option>' + "".join(
        f'<option value="{esc(g)}"{" selected" if g == asked.group else ""}>{esc(name)}</option>'
        for g, name in groups.items())
    return (f'<form method="get" action="{PATH}" class="filters">'
            f'<label>Outcome <select name="outcome">{outcomes}</select></label> '
            f'<label>Group <select name="group">{group_options}</select></label> '
            f'<label>Agent id <input name="agent" inputmode="numeric" size="12" value="{esc(asked.agent or "")}">'
            "</label> "
            f'<label>From <input type="date" name="from" value="{esc(asked.first_day or "")}"></label> '
            f'<label>To <input type="date" name="to" value="{esc(asked.last_day or "")}"></label> '
            f'<label>Ticket <input name="ticket" inputmode="numeric" size="10" value="{esc(asked.ticket or "")}">'
            '</label> <button type="submit">Filter</button> '
            f'<a href="{PATH}">Clear</a></form>')


def _log_table(subdomain: str, rows: Sequence[LogRow]) -> str:
    cells = [[
        esc(when(r.at)),
        f'<a href="{esc(ticket_url(subdomain, r.ticket_id))}" rel="noopener noreferrer" target="_blank">'
        f"#{r.ticket_id}</a>",
        esc(r.group or "-"), esc(r.agent or "-"), f'<span class="outcome {esc(r.outcome)}">{esc(r.outcome)}</span>',
        esc(r.reason), str(r.attempts)] for r in rows]
    return table(["Time", "Ticket", "Group", "Agent", "Outcome", "Reason", "Attempts"], cells,
                 empty="No ticket in this view.")


def _pager(asked: LogFilter, following: LogFilter | None) -> str:
    links = []
    if asked.after is not None:
        links.append(f'<a href="{href(PATH, asked.query(after=None))}">Newest</a>')
    if following is not None:
        links.append(f'<a rel="next" href="{href(PATH, following.query())}">Older</a>')
    return f'<nav class="pager">{" ".join(links)}</nav>' if links else ""


def chart_svg(counts: Mapping[str, Sequence[int]], now: float) -> str:
    """Small multiples: one row of daily bars per agent (the CHART_AGENTS busiest), days oldest first, the day
    labels below; names escaped. No script, no external resource."""
    if not counts:
        return '<p class="muted">No assignments in the last 14 days.</p>'
    busiest = sorted(counts.items(), key=lambda kv: (-sum(kv[1]), kv[0].casefold()))[:CHART_AGENTS]
    top = max(max(c) for _, c in busiest) or 1
    label_w, bar_w, gap, row_h, bar_h = 180, 18, 4, 30, 22
    width = label_w + CHART_DAYS * (bar_w + gap) + 60
    height = len(busiest) * row_h + 30
    first = datetime.fromtimestamp(now, UTC).date() - timedelta(days=CHART_DAYS - 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>Assignments per agent per day, {first.isoformat()} to '
             f"{(first + timedelta(days=CHART_DAYS - 1)).isoformat()} (UTC)</title>"]
    for index, (name, days) in enumerate(busiest):
        y = index * row_h
        parts.append(f'<text x="0" y="{y + bar_h - 6}" font-size="12">{esc(name[:28])}</text>')
        for day, count in enumerate(days):
            h = round(bar_h * count / top)
            x = label_w + day * (bar_w + gap)
            parts.append(f'<rect x="{x}" y="{y + bar_h - h}" width="{bar_w}" height="{h}" fill="#2f6f9f">'
                         f"<title>{esc(name)}: {count} on {(first + timedelta(days=day)).isoformat()}</title></rect>"
                         if count else f'<rect x="{x}" y="{y + bar_h - 1}" width="{bar_w}" height="1" fill="#ccc"/>')
        parts.append(f'<text x="{label_w + CHART_DAYS * (bar_w + gap) + 4}" y="{y + bar_h - 6}" font-size="12">'
                     f"{sum(days)}</text>")
    axis_y = len(busiest) * row_h + 14
    for day in range(0, CHART_DAYS, 2):
        label = (first + timedelta(days=day)).strftime("%m-%d")
        parts.append(f'<text x="{label_w + day * (bar_w + gap)}" y="{axis_y}" font-size="10">{label}</text>')
    parts.append("</svg>")
    rest = len(counts) - len(busiest)
    note = f'<p class="muted">{rest} more agent{"s" if rest != 1 else ""} not drawn.</p>' if rest > 0 else ""
    return "".join(parts) + note
