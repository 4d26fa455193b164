"""The one DynamoDB table (template.yaml `Table`): every item shape, who writes it, and how long it lives.

Keys are `pk` (partition) and `sk` (sort); three global secondary indexes, `gsi1` (`gsi1pk`, `gsi1sk`) and `gsi2`
(`gsi2pk`, `gsi2sk`: the assignment log), all attributes projected, and `gsi3` (`gsi3pk`, `gsi3sk`: the log of one
agent), which projects only the log's columns (LOG_COLUMNS).
`ttl` (epoch seconds) lets DynamoDB delete an item; deletion is lazy, so readers also check expiry.

| pk               | sk                 | what                                   | written by (in assignment/) | ttl   |
| ---------------- | ------------------ | -------------------------------------- | --------------------------- | ----- |
| `ACCOUNT#<sub>`  | `ACCOUNT`          | the account's record (no secrets)      | ../accounts/registry.py     | none  |
| `ACCOUNT#<sub>`  | `ROSTER#<group>`   | a group's ordered members, `version`   | rosters.py                  | none  |
| `ACCOUNT#<sub>`  | `ROTATION#<group>` | a group's rotation state (small)       | rosters.py, selection.py    | none  |
| `ACCOUNT#<sub>`  | `AGENT#<id>`       | one agent: availability, caps, counts  | agents.py, selection.py     | none  |
| `ACCOUNT#<sub>`  | `AVAILABILITY`     | availability stamp, policy, schedules  | agents.py, policy.py        | none  |
| `ACCOUNT#<sub>`  | `TICKET#<id>`      | a ticket's claim and audit record      | claims, agents, selection   | 90 d  |
| `ACCOUNT#<sub>`  | `LEASE#<name>`     | a short lease (token refresh, connect) | ../aws/leases.py            | +1 h  |
| `ACCOUNT#<sub>`  | `PACE#<budget>`    | a Zendesk rate budget (fixed window)   | pace.py                     | +1 d  |
| `STATE#<sha256>` | `STATE`          | an OAuth sign-in (hash only); `used_at`  | connect/states.py     | 10 minutes |
| `SESSION#<sha256>` | `SESSION`      | a console session (hash of id only)    | console/sessions.py   | 8 hours |
| `IMPORT#<sha256>`| `IMPORT`           | a connect's agent import: its progress | import_job.py               | 1 day |
| `IMPORT#<sha256>`| `PAGE#<list>#<n>`  | one Zendesk page of it, staged         | import_job.py               | 1 day |

A STATE's `purpose` is `connect` (absent on older items) or `signin` (the console's Sign in with Zendesk): the
one callback route finishes each its own way; a sign-in's `browser` is the SHA-256 of the cookie that binds it to
the browser that started it. A SESSION holds `subdomain`, `user_id`, `name` (of the signed-in
admin), `created_at`, `expires_at` (= `ttl`); its id and CSRF token are never stored (console/sessions.py).

`<group>` is a Zendesk group id, or `*` for the account-wide roster (tickets without a group).

- ROSTER: `group_id`, `group_name`, `members` (a list of `{id, name}` in rotation order: ~30 bytes an agent, so
  ~150 KB at 5,000), `version` (bumped whenever they change), `updated_at`. Written only when the members change
  (roster sync), in one transaction with the ROTATION's `roster_version`; read by workers with eventual
  consistency and cached per warm worker by version; the console's Agents page keeps them per warm container too,
  checked against a Query of every roster's version (rosters.py `current`). Rosters stored before rotations had
  their own item hold the old counter `position` instead; the first sync or assignment turns it into a ROTATION.
- IMPORT: the agent import a connect started (assignment/import_job.py), keyed by the SHA-256 of its random id
  (the id itself is only in the admin's progress link): `subdomain`, `status` (running, done), `phase` (the list
  being read: groups, users, memberships; then build), `next_url` (Zendesk's cursor link to the phase's next
  page, none for its first), `pages` (pages read), `agents` (eligible agents read so far), `groups`,
  `memberships`, `excluded` (the account's excluded agent ids, fixed at the start), `started_at`, `updated_at`,
  `finished_at`, `error` (the last failure of a step, retried), and when done `rosters` (up to 50 `{name,
  agents}`), `roster_count`, `in_rotation`, `joined`, `left`. PAGE: `rows` of one page, only what the rosters
  need: `[id, name]` of live groups, `[id, name]` of eligible agents, `[user_id, group_id]` of assignable
  memberships (~4 KB a page of 100).
- ROTATION: `group_id`, `last_agent_id` (who was assigned last; absent before the first assignment),
  `sequence` (assignments so far; the `position` recorded on tickets), `roster_version` (the members it refers
  to). Moved by every assignment with a compare-and-set on `sequence` and `roster_version`; re-pointed by a sync
  when the last agent left. About 100 bytes, whatever the roster's size.
- AGENT: `id`, `name` (optional), the availability inputs (`in_rotation`, `status`, `ooo_from`, `ooo_until`,
  `backup_id`, `zendesk_status`, `ooo_app`, `time_zone`), cap overrides (`open_cap`, `daily_cap`), the counts
  (`open_count`, `daily_count` for the local day `daily_date`), `version` (bumped by every availability change,
  never by counts), `reassigned_for` (the key of the absence whose tickets were queued for reassignment:
  assignment/absence.py), and the order of the last event applied to a field events set
  (`zendesk_status_version`: Zendesk's status version; `ooo_app_at`: the Out of Office change's event time;
  events/statuses.py). Absent = in rotation, available, nothing counted (imports write none). Under 1 KB.
- PACE: a fixed window of a Zendesk limit the workers share (`ticket-updates`: Update Ticket's, see
  assignment/pace.py): `window_start` (aligned on the window's length), `used` (updates asked for in it: a slot is a
  conditional `ADD used :one`, a new window a conditional SET), `blocked_until` (a 429's Retry-After end: no worker
  updates before it). Written only while the account is pressed. `ttl` a day after the last write. About 80 bytes.
- AVAILABILITY: `version`, bumped with every availability change of any agent of the account and of the
  account's settings (warm workers drop their cached agent states when it moves); `policy` (a map of
  availability.model.AccountPolicy's fields: `own_status`, `zendesk_status`, `status_map`, `ooo_app`,
  `working_hours`, `reassign`, `open_cap`, `daily_cap` (absent: no cap), `counted_statuses`,
  `waiting_alert_minutes`; absent fields take the defaults) and `schedules` (a list of maps: `id`, `name`,
  `time_zone`, `intervals` as [start, end) minutes from Sunday 00:00 local, `holidays` as [first, last] dates,
  `group_ids`, `agent_ids`; an imported one has the id `zendesk:<Zendesk id>`), `updated_at`, `reconciled_at`
  (the last count reconciliation, reconcile.py; never bumps `version`). Written by policy.py (read-modify-write,
  conditional on `version`), agents.py (the version only) and reconcile.py (its time only); read with the rotation
  in the same BatchGet. A few KB with a dozen schedules.

| gsi1pk               | gsi1sk                                 | what                                          |
| -------------------- | -------------------------------------- | --------------------------------------------- |
| `ACCOUNTS`           | `<sub>`                                | every account (ACCOUNT items)                 |
| `ASSIGNED#<sub>`     | finish time, padded                    | an account's assigned tickets, by time        |
| `PARKED#<sub>`       | finish time, padded                    | tickets parked while the connection was broken |
| `WAITING#<sub>`      | `GROUP#<group>#<receipt time, padded>` | waiting tickets: per group, oldest first      |

| gsi2pk               | gsi2sk                                 | what                                          |
| -------------------- | -------------------------------------- | --------------------------------------------- |
| `LOG#<sub>`          | time of the last outcome, padded       | the log: every TICKET record with an outcome  |

| gsi3pk               | gsi3sk                                 | what                                          |
| -------------------- | -------------------------------------- | --------------------------------------------- |
| `LOGA#<sub>#<agent>` | = gsi2sk                               | the log of the records that name that agent   |

The log (the console's Assignments page) lists every ticket by its last outcome, newest first: claims.py's `finish`
(assigned, waiting, skipped, parked) and `release` (failed: an attempt failed, the ticket is retried) set `gsi2pk`,
`gsi2sk`, `logged` (the outcome) and `logged_at` in the write that records the outcome, so logging costs no extra
DynamoDB call; a claim leaves them, so a ticket being retried still shows its last outcome. Records live 90 days
(`ttl`), so the log covers the whole retention. A record holding only counts (a person assigned it) is not logged.
The log of one agent (`gsi3`, the console's agent filter) is the log's records that hold an `agent_id`: `gsi3sk` is
written with `gsi2sk`, always the same value, and `gsi3pk` with `agent_id` (by the write that sets the agent: the
assignment's transaction in selection.py, `finish`, `release`) and removed with it (`give_back`, a reassignment's
claim), so an index entry exists exactly when the log's entry does and the record names an agent (sparse: a record
without both keys is not in the index). Records logged before the index existed (December 2026) lacked both keys:
the scheduled maintenance gives them theirs (maintenance.py step 9, claims.py `index_agent_log`: the log read newest
first, up to 2,000 entries per account and run, each record written only if it still names that agent and has
no entry), keeping its progress on the ACCOUNT item (`log_index_cursor`, then `log_index_filled_at` once the whole
log was read: never again).

Waiting tickets are sorted by group first, so a wake reads each group's oldest tickets directly (a `begins_with`-style
range), and the groups that have waiting tickets are found one short query each (the next key after
`GROUP#<group>$`), however many tickets another group holds. Tickets recorded waiting before (until December 2026)
have the receipt time alone as gsi1sk: such keys are digits, so they sort before every `GROUP#` key, are read as a
range of their own (`gsi1sk < "GROUP#"`, oldest first) and are moved under their group by the next wake or waiting
alert that reads them (assignment/waiting.py; a conditional write on the old key, so a claim meanwhile wins).

A TICKET item's `status` is in_progress (with `lease_until`, and the claim's own `claim_token`, so that a claim
sent again by the SDK after DynamoDB applied it knows itself: claims.py `claim`), pending, assigned, skipped,
parked or waiting (with `reason`, e.g. no_eligible_agent, all_away, all_at_capacity, off_hours, the `group_id` it
waits for and `wake_at`, the earliest time one of that group's agents may become eligible by itself; `woken_at`,
when a wake last queued it, and `alerted_at`, when operators were told it waits too long: assignment/waiting.py);
`attempts` counts claims and fences them. A reassignment (an agent out of office, assignment/absence.py) claims with
`reassign_from` and records `reassigned_from`, `reassigned_at` when it assigned the ticket to someone else. A claim
removes the item from gsi1; finishing it as assigned, parked or waiting puts it back under that status. See
assignment/claims.py for the transitions. The agent chosen for it (`agent_id`, `agent_name`, `position`,
`group_id`) is written with the assignment's transaction, so a retry reuses them (a backup's `position` is 0: the
rotation did not move). Its
count marker (`counted_agent_id`, `counted_open`, `counted_date`: whose open and daily counts hold the ticket;
`counted_at`: the `updated_at` of the last ticket-event snapshot applied) makes counting idempotent per ticket
(assignment/agents.py); a ticket counted without ever being claimed (a person
assigned it) has a record with no `status` and the marker only (kept 400 days). The maintenance's count
reconciliation (reconcile.py) moves the `ttl` of a record of a still-open ticket to 90 days on when it has less than
30 left, so a ticket open for longer than 90 days keeps its marker.
"""

from __future__ import annotations

INDEX = "gsi1"
LOG_INDEX = "gsi2"
LOG_AGENT_INDEX = "gsi3"
# The attributes the log's readers use (the console's page, CSV and chart); gsi3 projects these alone (template.yaml)
LOG_COLUMNS = ("ticket_id", "logged", "logged_at", "group_id", "agent_id", "agent_name", "reason", "attempts")
ACCOUNTS_PARTITION = "ACCOUNTS"
ACCOUNT_SK = "ACCOUNT"
ROSTER_PREFIX = "ROSTER#"
AGENT_PREFIX = "AGENT#"
TICKET_PREFIX = "TICKET#"
AVAILABILITY_SK = "AVAILABILITY"
STATE_SK = "STATE"
SESSION_SK = "SESSION"
IMPORT_SK = "IMPORT"
IMPORT_PAGE_PREFIX = "PAGE#"
WAITING_GROUP_PREFIX = "GROUP#"  # of a waiting ticket's gsi1sk; every old-shape key (a time: digits) sorts before it


def account_pk(subdomain: str) -> str:
    """The partition of everything that belongs to one account."""
    return f"ACCOUNT#{subdomain}"


def roster_sk(group_id: str) -> str:
    return f"{ROSTER_PREFIX}{group_id}"


def rotation_sk(group_id: str) -> str:
    return f"ROTATION#{group_id}"


def agent_sk(agent_id: int) -> str:
    return f"{AGENT_PREFIX}{agent_id}"


def ticket_sk(ticket_id: int) -> str:
    return f"{TICKET_PREFIX}{ticket_id}"


def lease_sk(name: str) -> str:
    return f"LEASE#{name}"


def pace_sk(budget: str) -> str:
    return f"PACE#{budget}"


def state_pk(state_hash: str) -> str:
    return f"STATE#{state_hash}"


def session_pk(session_hash: str) -> str:
    return f"SESSION#{session_hash}"


def import_pk(import_hash: str) -> str:
    return f"IMPORT#{import_hash}"


def import_page_sk(phase: str, number: int) -> str:
    """A staged page's sort key: its list, then its number, padded so that string order is reading order."""
    return f"{IMPORT_PAGE_PREFIX}{phase}#{number:06d}"


def outcome_partition(status: str, subdomain: str) -> str:
    """gsi1pk of an account's tickets that ended `status` (assigned, parked: by finish time; waiting: by received
    time)."""
    return f"{status.upper()}#{subdomain}"


def log_partition(subdomain: str) -> str:
    """gsi2pk of an account's log: every TICKET record by the time of its last outcome."""
    return f"LOG#{subdomain}"


def log_agent_partition(subdomain: str, agent_id: int) -> str:
    """gsi3pk of the log of one agent: the account's logged records that name that agent."""
    return f"LOGA#{subdomain}#{agent_id}"


def time_sort_key(epoch: float) -> str:
    """gsi1sk for a time: zero-padded so that string order is time order."""
    return f"{epoch:017.3f}"


def waiting_sort_key(group_id: str, received_at: float) -> str:
    """gsi1sk of a waiting ticket: its group, then its receipt time, so each group's tickets are read oldest first."""
    return f"{WAITING_GROUP_PREFIX}{group_id}#{time_sort_key(received_at)}"


def waiting_group_of(sort_key: str) -> str | None:
    """The group in a waiting ticket's gsi1sk; None for a key of the old shape (the receipt time alone)."""
    if not sort_key.startswith(WAITING_GROUP_PREFIX):
        return None
    return sort_key[len(WAITING_GROUP_PREFIX):sort_key.rindex("#")]
