"""Make the emulator's DynamoDB reads cost what DynamoDB's do: a Query reads the items of one partition in a key
range, not the whole table, and an answer's size does not cost seconds.

moto's `Table.query` walks every item of the table on each call (its base-table path filters `all_items()` by hash
key, its index path compares every item's index keys), then sorts and compares them with its typed values: about a
quarter of a millisecond per item of the table. With an account's 10,000 ticket records in the table, every Query
of any partition took seconds, so no page or worker time measured on the local stack meant anything. DynamoDB reads
only the items of the key range a Query asks for (docs.aws.amazon.com/amazondynamodb/latest/developerguide/
Query.html).

`install()` wraps `Table.query` so that moto runs its own query, unchanged, over a narrowed candidate list: the
items whose partition (or index partition) key equals the query's and, for a sort-key condition on a string (=, <,
<=, >, >=, BETWEEN, begins_with), whose sort key satisfies it; then, in the query's order, those from the
ExclusiveStartKey on and, with a Limit, the next Limit + 1 (so that moto still sees there is more and answers a
LastEvaluatedKey), every item whose sort key ties with a boundary included. Everything else (the exact conditions
again, order and ties, paging, limits, filters, projections) is moto's, so answers are the same; the narrowing only
drops items moto would not return.

moto 5.2 also turns every answer into JSON by walking botocore's model of the operation, value by value: about
0.1 ms per attribute value, so reading 1,000 agent items or the rosters of 1,000 agents took a second or more.
The answers of Query, GetItem and BatchGetItem are DynamoDB JSON already (moto's `dynamo_to_dict`) but for binary
values, which the model encodes as base64: `install()` writes those answers with `json.dumps` (binary as base64),
the same document (tests/unit/test_emulator_speedups.py compares them).

moto 5.2 also deep-copies the whole table before each TransactWriteItems, once per item of the transaction, to roll
back if it is cancelled: with thousands of tickets, claims and log rows in the table that cost a large part of a
second a transaction, and in a burst every assignment's rotation step waited on it. DynamoDB's transaction is all
or nothing over the items it names (docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html):
`install()` keeps a copy of those items only, and on cancellation puts them back as they were (an item the
transaction created is removed). The answers and the table afterwards are moto's (the tests compare them).

moto also ignores TransactWriteItems' ClientRequestToken. botocore sends one with each transaction and the same one
when it retries a call whose answer timed out; DynamoDB applies such a call once and answers the retry with success
for 10 minutes (docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html). Without that,
a transaction applied while its caller had already given up failed its own conditions on the retry, so a batch of
claims looked taken by someone else. `install()` remembers each applied token for 10 minutes: a repeat with the same
request answers success without applying it again; one with other parameters is IdempotentParameterMismatch.

moto's queues (SQS) re-read every message of a queue many times for each call: receiving a message asked for the
queue's retention period through `get_queue_attributes`, which computes every attribute of the queue (three
counts, each a walk over every message, each message asking the time through two datetime objects), and a read of
one attribute computed them all three times. A burst of 1,000 tickets kept 1,000 messages in a queue, and the
emulator spent most of its CPU there. `install_queues()` reads the retention period from the queue itself, computes
the attributes once for a read of them, and asks the time with `time.time()` (the same UTC epoch time). The answers
are moto's (the tests compare them).

moto 5.2 also applies a ProjectionExpression by turning the whole item into plain Python, once per attribute asked
for, and back: a projection cost more than the attributes it saved (an AGENT Query asking for 16 of its attributes
took three times as long as reading them all, a roster's versions as long as its members). DynamoDB's projection
returns fewer attributes for the same read (docs.aws.amazon.com/amazondynamodb/latest/developerguide/
Expressions.ProjectionExpressions.html): `install()` answers a projection of top-level attributes with those
attributes of the item as they are (a nested path, `a.b` or `a[0]`, is still moto's), the same values.

moto also deep-copies every item a Query matched before it filters and projects them, though the answer is only
written out: `install()` lets a read share the stored items (a projection makes new ones), and keeps the copies of
a backup or a restore.

Installed by the local stack only; the tests' in-process moto is untouched.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from email.utils import formatdate
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_models
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

_PLAIN_ANSWERS = {"Query", "GetItem", "BatchGetItem"}
TOKEN_SECONDS = 600  # how long DynamoDB keeps a transaction's ClientRequestToken


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__("com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                         "The request uses the same client token as a previous, but non-identical request.")

_RANGE_TESTS = {
    "EQ": lambda v, a: v == a[0], "=": lambda v, a: v == a[0],
    "LT": lambda v, a: v < a[0], "<": lambda v, a: v < a[0],
    "LE": lambda v, a: v <= a[0], "<=": lambda v, a: v <= a[0],
    "GT": lambda v, a: v > a[0], ">": lambda v, a: v > a[0],
    "GE": lambda v, a: v >= a[0], ">=": lambda v, a: v >= a[0],
    "BETWEEN": lambda v, a: a[0] <= v <= a[1],
    "BEGINS_WITH": lambda v, a: v.startswith(a[0]),
}


class _Narrowed:
    """The table as moto's query sees it, with `all_items()` narrowed to the candidates."""

    def __init__(self, table: Table, candidates: list[Any]) -> None:
        self._table = table
        self._candidates = candidates

    def all_items(self) -> list[Any]:
        return self._candidates

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _string(value: Any) -> str | None:
    """The plain string of a DynamoType of type S, else None (no narrowing on other types)."""
    return value.value if getattr(value, "type", None) == "S" and isinstance(value.value, str) else None


def _range_test(comparison: str | None, objects: list[Any]) -> Any:
    test = _RANGE_TESTS.get(comparison or "")
    values = [_string(o) for o in objects]
    if test is None or not values or any(v is None for v in values):
        return None
    return lambda value: test(value, values)


class _IndexView:
    """What an index holds for one partition key, sorted by sort key, kept until the emulator's next write: the
    console's reads of the log walk the same index page after page, and a walk of the whole table each time cost
    more than the read. Every write (put, update, delete, transaction, batch, a table made or removed) moves
    `writes`, and a view read before it is dropped."""

    def __init__(self) -> None:
        self.writes = 0
        self._views: dict[tuple[int, str, str, str, str | None], list[tuple[str | None, Any]]] = {}
        self._at = 0
        # The stack's own plumbing reaches the emulator without the proxy that runs DynamoDB calls one at a time:
        # a view is built and kept under the lock, so a write can never land between its build and its keeping.
        self._lock = threading.RLock()

    def wrote(self) -> None:
        with self._lock:
            self.writes += 1

    def partition(self, table: Table, index_name: str, name: str, wanted: str,
                  sort_attr: str | None) -> list[tuple[str | None, Any]]:
        """(sort key, item) of every item whose `name` is `wanted`, by sort key (None: no string sort key)."""
        with self._lock:
            return self._partition(table, index_name, name, wanted, sort_attr)

    def _partition(self, table: Table, index_name: str, name: str, wanted: str,
                   sort_attr: str | None) -> list[tuple[str | None, Any]]:
        if self._at != self.writes:
            self._views.clear()
            self._at = self.writes
        key = (id(table), table.name, index_name, wanted, sort_attr)
        view = self._views.get(key)
        if view is None:
            view = []
            for partition in table.items.values():
                for item in partition.values() if table.range_key_attr else [partition]:
                    if _string(item.attrs.get(name)) == wanted:
                        view.append((_string(item.attrs.get(sort_attr)) if sort_attr else None, item))
            view.sort(key=lambda pair: pair[0] or "")
            self._views[key] = view
        return view


_INDEX_VIEW = _IndexView()
_SIZES = threading.local()  # `memo`: item id -> size, while one Query runs in this thread (else None)


def _counted(method: Any) -> Any:
    """A write of moto's that moves the index views' write count (before and after it)."""
    def write(*args: Any, **kwargs: Any) -> Any:
        _INDEX_VIEW.wrote()
        try:
            return method(*args, **kwargs)
        finally:
            _INDEX_VIEW.wrote()

    return write


def _candidates(table: Table, hash_key: Any, range_comparison: str | None, range_objs: list[Any],
                index_name: str | None, hash_key_conditions: list[tuple[str, Any]] | None,
                range_key_conditions: list[tuple[str, str, list[Any]]] | None,
                ) -> tuple[list[Any], str | None, list[tuple[str | None, Any]] | None] | None:
    """The items the query may return, the sort key's attribute and, for an index, the items with their sort keys
    in key order; None to leave the query as moto runs it."""
    if range_key_conditions and len(range_key_conditions) > 1:
        return None  # multi-attribute keys: moto's own way
    test = _range_test(range_comparison, range_objs)
    if index_name is None:
        if hash_key is None or not table.range_key_attr:
            return None
        partition = table.items.get(hash_key)
        if not partition:
            return [], None, None
        items = list(partition.values())
        if test is not None:
            items = [i for i in items if (key := _string(i.range_key)) is not None and test(key)]
        return items, table.range_key_attr, None
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None or not hash_key_conditions or len(hash_key_conditions) != 1:
        return None
    hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    (name, expected), = hash_key_conditions
    wanted = _string(expected)
    if wanted is None or hash_keys != [name] or len(range_keys) > 1:
        return None
    sort_attr: str | None = range_keys[0] if range_keys else None
    keyed = _INDEX_VIEW.partition(table, index_name, name, wanted, sort_attr)
    if test is not None and sort_attr is not None:
        keyed = [(key, item) for key, item in keyed if key is not None and test(key)]
    return [item for _, item in keyed], sort_attr, keyed


def _window(items: list[Any], sort_attr: str | None, forward: bool, start: dict[str, Any] | None,
            limit: int | None, keyed: list[tuple[str | None, Any]] | None = None) -> list[Any]:
    """The candidates from the start key on, at most `limit` + 1 past it, ties at either boundary kept (`keyed`:
    the candidates with their sort keys, when known already)."""
    if sort_attr is None or not (start or limit):
        return items
    if keyed is None:
        keyed = [(_string(i.attrs.get(sort_attr)), i) for i in items]
    if any(k is None for k, _ in keyed):
        return items
    keyed = sorted(keyed, key=lambda pair: pair[0] or "", reverse=not forward)
    if start:
        first = (start.get(sort_attr) or {}).get("S")
        if not isinstance(first, str):
            return items
        ties = [pair for pair in keyed if pair[0] == first]
        keyed = ties + [pair for pair in keyed if (pair[0] > first if forward else pair[0] < first)]
        skipped = len(ties)
    else:
        skipped = 0
    if limit:
        end = skipped + limit + 1
        while end < len(keyed) and keyed[end][0] == keyed[end - 1][0]:
            end += 1
        keyed = keyed[:end]
    return [i for _, i in keyed]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


class _ShareReadItems:
    """moto's `copy` module as its table model sees it, but for the items a read answers with, which are shared
    rather than copied: the answer is only written out, and a projection makes new items (Item.project)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Item):
            return value
        if isinstance(value, list) and all(isinstance(v, Item) for v in value):
            return list(value)
        return copy.deepcopy(value, memo)  # a backup, a restore, an import: copied as moto copies them

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


class _CopyAllButTables:
    """moto's `copy` module as its DynamoDB backend sees it, but for a table, which is returned as it is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _touched(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any, Any]]:
    """Each item a transaction names: its table, keys and a copy of it as it is now (None when it does not exist)."""
    touched = []
    for entry in transact_items:
        op = next(iter(entry.values()), None) if isinstance(entry, dict) else None
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        key = (op.get("Key") or op.get("Item")) if table is not None else None
        if not isinstance(key, dict) or table.hash_key_attr not in key:
            continue  # moto refuses it itself, before writing anything
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
        if table.has_range_key and range_key is None:
            continue
        current = table.get_item(hash_key, range_key)
        touched.append((table, hash_key, range_key, copy.deepcopy(current)))
    return touched


def _put_back(touched: list[tuple[Table, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, before in reversed(touched):
        partition = table.items.get(hash_key) if range_key is not None else None
        if before is None:
            if range_key is None:
                table.items.pop(hash_key, None)
            elif partition is not None:
                partition.pop(range_key, None)
        elif range_key is None:
            table.items[hash_key] = before
        else:
            table.items[hash_key][range_key] = before


def install_queues() -> None:
    """The queue speedups (see the module docstring), once per process."""
    from moto.sqs import models as sqs_models  # noqa: PLC0415 (moto's SQS models: only where they are served)
    from moto.sqs.exceptions import InvalidAttributeName  # noqa: PLC0415

    if getattr(sqs_models.SQSBackend.get_queue_attributes, "_once", False):
        return
    unix_time, unix_time_millis = sqs_models.unix_time, sqs_models.unix_time_millis
    sqs_models.unix_time = lambda dt=None: time.time() if dt is None else unix_time(dt)
    sqs_models.unix_time_millis = lambda dt=None: time.time() * 1000.0 if dt is None else unix_time_millis(dt)
    every_name = sqs_models.SQSBackend.get_queue_attributes

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        if not attribute_names or "All" in attribute_names:
            return every_name(self, queue_name, attribute_names)
        queue = self.get_queue(queue_name)
        valid = {"All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES}
        invalid = next((name for name in attribute_names if name not in valid), None)
        if invalid is not None:
            raise InvalidAttributeName(invalid)
        attributes = queue.attributes  # once, not three times a name
        return {name: attributes[name] for name in attribute_names if attributes.get(name) is not None}

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = self.get_queue(queue_name).message_retention_period
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    get_queue_attributes._once = True  # type: ignore[attr-defined]
    sqs_models.SQSBackend.get_queue_attributes = get_queue_attributes
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def install() -> None:
    """Wrap moto's Table.query, the JSON of its read answers and its transactions' rollback (once per process)."""
    if getattr(Table.query, "_narrowed", False):
        return
    transact = DynamoDBBackend.transact_write_items
    dynamodb_models.copy = _CopyAllButTables()  # type: ignore[assignment]
    table_models.copy = _ShareReadItems()  # type: ignore[assignment]

    handled = DynamoHandler.transact_write_items
    applied: dict[str, tuple[float, str]] = {}  # token -> (when, the request's items as JSON)

    tokens = threading.Lock()  # a token is checked, applied and kept as one step

    def transact_with_token(self: DynamoHandler) -> Any:
        with tokens:
            return _transact_once(self)

    def _transact_once(self: DynamoHandler) -> Any:
        token = self.body.get("ClientRequestToken")
        if not isinstance(token, str) or not token:
            return handled(self)
        now, request = time.time(), json.dumps(self.body.get("TransactItems"), sort_keys=True)
        for old in [t for t, (at, _) in applied.items() if at < now - TOKEN_SECONDS]:
            del applied[old]
        if token in applied:
            if applied[token][1] != request:
                raise IdempotentParameterMismatch
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        answer = handled(self)
        applied[token] = (now, request)
        return answer

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        touched = _touched(self, transact_items)
        try:
            transact(self, transact_items)
        except Exception:
            _put_back(touched)
            raise

    original = Table.query
    serialized = DynamoResult.execute_result
    projected = Item.project

    def project(self: Item, projection_expressions: list[list[str]]) -> Item:
        names = [path[0] for path in projection_expressions
                 if len(path) == 1 and isinstance(path[0], str) and "[" not in path[0]]
        if len(names) != len(projection_expressions):
            return projected(self, projection_expressions)  # a nested path: moto's own way
        item = object.__new__(Item)  # not through BaseModel.__new__, which keeps every item made, for ever
        Item.__init__(item, hash_key=self.hash_key, range_key=self.range_key, attrs={})
        # read only (the answer is written from them, never changed); dict.update skips moto's size check, which
        # measures the whole item at each attribute set: a part of a stored item is within the limit
        dict.update(item.attrs, {name: self.attrs[name] for name in names if name in self.attrs})
        return item

    def execute_result(self: DynamoResult, context: Any) -> Any:
        if context.operation_model.name not in _PLAIN_ANSWERS:
            return serialized(self, context)
        headers = {"Content-Type": "application/x-amz-json-1.0", "server": "amazon.com",
                   "date": formatdate(usegmt=True), "status": 200}
        return 200, headers, json.dumps(_plain(self.result))

    def query(self: Table, hash_key: Any, range_comparison: str | None, range_objs: list[Any], limit: int,
              exclusive_start_key: dict[str, Any], scan_index_forward: bool, projection_expressions: Any,
              index_name: str | None = None, consistent_read: bool = False, filter_expression: Any = None,
              hash_key_conditions: list[tuple[str, Any]] | None = None,
              range_key_conditions: list[tuple[str, str, list[Any]]] | None = None, **filter_kwargs: Any) -> Any:
        found = None if filter_kwargs else _candidates(
            self, hash_key, range_comparison, range_objs, index_name, hash_key_conditions, range_key_conditions)
        target: Any = self
        if found is not None:
            candidates, sort_attr, keyed = found
            target = _Narrowed(self, _window(candidates, sort_attr, scan_index_forward, exclusive_start_key, limit,
                                             keyed))
        _SIZES.memo = {}  # moto measures each candidate twice: once is enough within one read
        try:
            return original(target, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                            scan_index_forward, projection_expressions, index_name, consistent_read,
                            filter_expression, hash_key_conditions=hash_key_conditions,
                            range_key_conditions=range_key_conditions, **filter_kwargs)
        finally:
            _SIZES.memo = None

    query._narrowed = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    Item.project = project  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for owner, name in ((DynamoDBBackend, "put_item"), (DynamoDBBackend, "update_item"),
                        (DynamoDBBackend, "delete_item"), (DynamoDBBackend, "transact_write_items"),
                        (DynamoDBBackend, "batch_write_item"), (DynamoDBBackend, "create_table"),
                        (DynamoDBBackend, "delete_table"), (DynamoDBBackend, "update_table"),
                        (Table, "put_item"), (Table, "delete_item")):
        setattr(owner, name, _counted(getattr(owner, name)))
    measured = Item.size

    def size(self: Item) -> int:
        memo = getattr(_SIZES, "memo", None)
        if memo is None:
            return measured(self)
        if id(self) not in memo:
            memo[id(self)] = measured(self)
        return int(memo[id(self)])

    Item.size = size  # type: ignore[method-assign]
    DynamoHandler.transact_write_items = transact_with_token  # type: ignore[method-assign]
