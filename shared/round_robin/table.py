"""The one DynamoDB table (template.yaml `Table`): every item shape, who writes it, and how long it lives.

Keys are `pk` (partition) and `sk` (sort); one global secondary index `gsi1` (`gsi1pk`, `gsi1sk`, all attributes
projected). `ttl` (epoch seconds) lets DynamoDB delete an item; deletion is lazy, so readers also check expiry.

| pk               | sk               | what                                    | written by            | ttl        |
| ---------------- | ---------------- | --------------------------------------- | --------------------- | ---------- |
| `ACCOUNT#<sub>`  | `ACCOUNT`        | the account's record (no secrets)       | accounts/registry.py  | none       |
| `ACCOUNT#<sub>`  | `ROSTER#<group>` | a group's rotation: members, counter    | assignment/rosters.py | none       |
| `ACCOUNT#<sub>`  | `TICKET#<id>`    | a ticket's claim and audit record       | assignment/claims.py  | 90 days    |
| `ACCOUNT#<sub>`  | `LEASE#<name>`   | a short lease (token refresh, connect)  | aws/leases.py         | lease + 1h |
| `STATE#<sha256>` | `STATE`          | a pending OAuth sign-in (hash only)     | connect/states.py     | 10 minutes |

`<group>` is a Zendesk group id, or `*` for the account-wide roster (tickets without a group).

| gsi1pk               | gsi1sk               | what                                                   |
| -------------------- | -------------------- | ------------------------------------------------------ |
| `ACCOUNTS`           | `<sub>`              | every account (ACCOUNT items)                          |
| `ASSIGNED#<sub>`     | finish time, padded  | an account's assigned tickets, by time (TICKET items)  |
| `PARKED#<sub>`       | finish time, padded  | tickets parked while the connection was broken         |
| `WAITING#<sub>`      | receipt time, padded | tickets waiting for an eligible agent, oldest first    |

A TICKET item's `status` is in_progress (with `lease_until`), pending, assigned, skipped, parked or waiting (with
`reason`, e.g. no_eligible_agent, and the `group_id` it waits for); `attempts` counts claims and fences them. A
claim removes the item from gsi1; finishing it as assigned, parked or waiting puts it back under that status.
See assignment/claims.py for the transitions.
"""

from __future__ import annotations

INDEX = "gsi1"
ACCOUNTS_PARTITION = "ACCOUNTS"
ACCOUNT_SK = "ACCOUNT"
ROSTER_PREFIX = "ROSTER#"
STATE_SK = "STATE"


def account_pk(subdomain: str) -> str:
    """The partition of everything that belongs to one account."""
    return f"ACCOUNT#{subdomain}"


def roster_sk(group_id: str) -> str:
    return f"{ROSTER_PREFIX}{group_id}"


def ticket_sk(ticket_id: int) -> str:
    return f"TICKET#{ticket_id}"


def lease_sk(name: str) -> str:
    return f"LEASE#{name}"


def state_pk(state_hash: str) -> str:
    return f"STATE#{state_hash}"


def outcome_partition(status: str, subdomain: str) -> str:
    """gsi1pk of an account's tickets that ended `status` (assigned, parked: by finish time; waiting: by received
    time)."""
    return f"{status.upper()}#{subdomain}"


def time_sort_key(epoch: float) -> str:
    """gsi1sk for a time: zero-padded so that string order is time order."""
    return f"{epoch:017.3f}"
