"""The token rule and the single-flight refresh (round_robin/accounts/tokens.py), with in-memory fakes: the
account's secret shared by every process (each process has its own cached view of it), a lease store, Zendesk's
token endpoint and API, and a controllable clock. No moto, no sockets.

The rule: a connection is broken only when Zendesk answers invalid_grant to the stored refresh token after a
fresh re-read, or refuses a token that a refresh grant has just returned. A 401 on any other token leads to a
refresh with that token as the stale one.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import requests
import responses

from round_robin.accounts.credentials import Credentials, TokenSet, credential_fingerprint
from round_robin.accounts.tokens import TokenManager
from round_robin.errors import ConnectionBrokenError, OAuthError, ZendeskUnauthorizedError
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient

ACCESS_LIFETIME = 300.0  # 5-minute access tokens, the shortest Zendesk allows
REFRESH_LIFETIME = 30 * 86400.0


class Clock:
    """Time that moves only when told to (sleeping moves it too)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
        time.sleep(0)  # let the other threads run; time itself moved above


class Secret:
    """The account's secret as stored (Secrets Manager): one value, shared by every process."""

    def __init__(self, credentials: Credentials) -> None:
        self.value = credentials
        self.lock = threading.Lock()


class ProcessVault:
    """One warm process's view of the secret: it keeps what it read last until it reads again with `fresh`."""

    def __init__(self, secret: Secret) -> None:
        self._secret = secret
        self._cached: Credentials | None = None

    def load(self, subdomain: str, *, fresh: bool = False) -> Credentials:
        if self._cached is None or fresh:
            with self._secret.lock:
                self._cached = self._secret.value
        return self._cached

    def save(self, subdomain: str, credentials: Credentials, *, forget_previous: bool = False) -> None:
        with self._secret.lock:
            self._secret.value = credentials
        self._cached = credentials


class Leases:
    """The per-account lease (a conditional write in DynamoDB): one holder at a time, expiring."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, pk: str, name: str, owner: str, now: float, seconds: float) -> bool:
        with self._lock:
            holder = self._held.get((pk, name))
            if holder is None or holder[1] < now or holder[0] == owner:
                self._held[(pk, name)] = (owner, now + seconds)
                return True
            return False

    def release(self, pk: str, name: str, owner: str) -> None:
        with self._lock:
            if self._held.get((pk, name), ("", 0.0))[0] == owner:
                del self._held[(pk, name)]


class Zendesk:
    """Zendesk's token endpoint and API for one account: rotating pairs (a refresh deletes the previous access
    AND refresh tokens), access tokens it may refuse before their recorded expiry, grants it may revoke."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.access: set[str] = set()
        self.pairs: dict[str, str] = {}  # refresh token -> its access token
        self.grants = 0
        self.invalid_grants = 0
        self.refuse_new_tokens = False  # e.g. the connecting user lost access: tokens are issued, then refused
        self.before_grant = None  # runs once inside the next grant (another process racing)

    def issue(self) -> TokenSet:
        n = next(self._ids)
        access, refresh = f"access-{n}", f"refresh-{n}"
        if not self.refuse_new_tokens:
            self.access.add(access)
        self.pairs[refresh] = access
        now = self._clock()
        return TokenSet(access, refresh, now + ACCESS_LIFETIME, now + REFRESH_LIFETIME, "read", issued_at=now)

    # the token endpoint (OAuthClient's interface)
    def refresh(self, subdomain: str, refresh_token: str) -> TokenSet:
        hook, self.before_grant = self.before_grant, None
        if hook is not None:
            hook()
        with self._lock:
            if refresh_token not in self.pairs:
                self.invalid_grants += 1
                raise OAuthError("invalid_grant", "The provided authorization grant is invalid", status=400)
            self.access.discard(self.pairs.pop(refresh_token))
            self.grants += 1
            return self.issue()

    # the API
    def call(self, authorization: str) -> str:
        if authorization.removeprefix("Bearer ") not in self.access:
            raise ZendeskUnauthorizedError("Zendesk answered 401", credential=credential_fingerprint(authorization))
        return "ok"

    def expire_access_tokens(self) -> None:
        """Every access token is refused from now on, whatever expiry the service recorded."""
        self.access.clear()

    def revoke_everything(self) -> None:
        self.access.clear()
        self.pairs.clear()


class Process:
    """A warm Lambda execution environment: its own cache of the secret, the shared lease store and Zendesk."""

    def __init__(self, secret: Secret, leases: Leases, zendesk: Zendesk, clock: Clock) -> None:
        self.vault = ProcessVault(secret)
        self.tokens = TokenManager(vault=self.vault, oauth=zendesk, leases=leases, clock=clock, sleep=clock.sleep)
        self._zendesk = zendesk

    def call_zendesk(self) -> str:
        """What the worker and the health check do: an API call, and on 401 the token rule."""
        def call() -> str:
            return self._zendesk.call(self.tokens.authorization("acme"))

        try:
            return call()
        except ZendeskUnauthorizedError as exc:
            return self.tokens.after_unauthorized("acme", exc.credential, call)


@pytest.fixture
def world():
    clock = Clock()
    zendesk = Zendesk(clock)
    secret = Secret(Credentials("oauth", zendesk.issue()))
    leases = Leases()

    class World:
        def process(self) -> Process:
            return Process(secret, leases, zendesk, clock)

        def stored(self) -> TokenSet:
            return secret.value.tokens

        def reconnect(self) -> None:
            """An admin reconnects: a new grant is stored, and the replaced token is revoked."""
            old = secret.value.tokens
            secret.value = replace(secret.value, tokens=zendesk.issue())
            zendesk.access.discard(old.access_token)
            zendesk.pairs.pop(old.refresh_token, None)

    world = World()
    world.clock, world.zendesk, world.secret = clock, zendesk, secret
    return world


def test_a_401_on_the_stored_token_refreshes_once_and_the_call_succeeds(world):
    worker = world.process()
    assert worker.call_zendesk() == "ok"
    world.zendesk.expire_access_tokens()

    assert worker.call_zendesk() == "ok"

    assert world.zendesk.grants == 1
    assert world.stored().access_token in world.zendesk.access


def test_a_stored_token_refused_before_its_recorded_expiry_is_refreshed_not_trusted(world):
    # given a warm worker still holding the first token, and the schedule that has since rotated it
    worker, schedule = world.process(), world.process()
    assert worker.call_zendesk() == "ok"
    schedule.tokens.refresh("acme", schedule.tokens.stored("acme").fingerprint())
    # when Zendesk refuses the new stored token too, although its recorded expiry is minutes away
    world.zendesk.expire_access_tokens()
    assert world.stored().access_expires_at > world.clock() + 60

    # then the worker refreshes (that token is the stale one) and carries on
    assert worker.call_zendesk() == "ok"
    assert world.zendesk.grants == 2  # the schedule's and this one


def test_a_warm_workers_revoked_token_after_a_reconnect_takes_the_new_connection_without_a_grant(world):
    worker, schedule = world.process(), world.process()
    assert worker.call_zendesk() == "ok"
    world.reconnect()  # the worker's cached token is revoked now

    assert worker.call_zendesk() == "ok"
    assert world.zendesk.grants == 0

    schedule.tokens.refresh("acme", schedule.tokens.stored("acme").fingerprint())  # the schedule's rotation
    assert worker.call_zendesk() == "ok"
    assert world.zendesk.grants == 1 and world.zendesk.invalid_grants == 0


def test_a_token_that_a_refresh_grant_has_just_returned_and_zendesk_refuses_breaks_the_connection(world):
    worker = world.process()
    world.zendesk.refuse_new_tokens = True
    world.zendesk.expire_access_tokens()

    with pytest.raises(ConnectionBrokenError) as broken:
        worker.call_zendesk()

    assert broken.value.reason == "unauthorized"
    assert world.zendesk.grants == 1  # one refresh, then believed


def test_invalid_grant_to_the_stored_refresh_token_after_a_fresh_reread_breaks_the_connection(world):
    worker = world.process()
    world.zendesk.revoke_everything()  # an admin revoked the service's access in Zendesk

    with pytest.raises(ConnectionBrokenError) as broken:
        worker.call_zendesk()

    assert broken.value.reason == "invalid_grant"


def test_invalid_grant_because_another_process_just_rotated_takes_its_pair_instead(world):
    worker, other = world.process(), world.process()
    world.zendesk.expire_access_tokens()

    def other_rotates_first():  # e.g. a process whose lease had expired, mid-refresh
        fresh = world.zendesk.refresh("acme", world.stored().refresh_token)
        other.vault.save("acme", replace(world.secret.value, tokens=fresh))

    world.zendesk.before_grant = other_rotates_first

    assert worker.call_zendesk() == "ok"
    assert world.zendesk.invalid_grants == 1 and world.zendesk.grants == 1


def test_a_second_401_with_a_token_from_storage_refreshes_again_rather_than_breaking(world):
    # given two rotations by the schedule, the worker holding the first token and Zendesk refusing the third
    worker, schedule = world.process(), world.process()
    assert worker.call_zendesk() == "ok"
    schedule.tokens.refresh("acme", schedule.tokens.stored("acme").fingerprint())
    schedule.tokens.refresh("acme", schedule.tokens.stored("acme").fingerprint())
    world.zendesk.expire_access_tokens()

    assert worker.call_zendesk() == "ok"
    assert world.zendesk.grants == 3


def test_the_schedule_does_not_rotate_again_a_token_that_a_worker_rotated_after_it_looked(world):
    worker, schedule = world.process(), world.process()
    seen_by_schedule = schedule.tokens.stored("acme").fingerprint()
    world.zendesk.expire_access_tokens()
    assert worker.call_zendesk() == "ok"  # the worker's refresh lands first

    refreshed = schedule.tokens.refresh("acme", seen_by_schedule)

    assert world.zendesk.grants == 1
    assert refreshed.tokens.access_token == world.stored().access_token


def test_an_api_token_zendesk_refuses_breaks_the_connection_at_once(world):
    world.secret.value = Credentials("api_token", api_email="ada@acme.example", api_token="revoked")
    worker = world.process()

    with pytest.raises(ConnectionBrokenError):
        worker.call_zendesk()

    assert world.zendesk.grants == 0


def test_many_warm_workers_refused_at_once_cause_exactly_one_grant(world):
    workers = [world.process() for _ in range(8)]
    for worker in workers:
        assert worker.call_zendesk() == "ok"  # each caches the first token
    world.zendesk.expire_access_tokens()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda w: w.call_zendesk(), workers * 3))

    assert answers == ["ok"] * 24
    assert world.zendesk.grants == 1 and world.zendesk.invalid_grants == 0


def test_a_token_near_its_recorded_expiry_is_refreshed_before_use_once(world):
    workers = [world.process() for _ in range(4)]
    world.clock.now += ACCESS_LIFETIME - 60  # inside the refresh leeway

    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = set(pool.map(lambda w: w.tokens.authorization("acme"), workers))

    assert world.zendesk.grants == 1
    assert seen == {f"Bearer {world.stored().access_token}"}


@responses.activate
def test_the_client_names_the_refused_credential_by_its_fingerprint_only():
    responses.get("https://acme.zendesk.com/api/v2/users/me.json", status=401,
                  json={"error": "invalid_token", "error_description": "The access token provided is expired"})
    client = ZendeskClient("https://acme.zendesk.com", lambda: "Bearer secret-access-token",
                           session=requests.Session())

    with pytest.raises(ZendeskUnauthorizedError) as refused:
        users.me(client)

    assert refused.value.credential == credential_fingerprint("Bearer secret-access-token")
    assert "secret-access-token" not in str(refused.value) + refused.value.credential


def test_the_schedule_rotating_the_token_a_workers_grant_just_returned_does_not_break_the_connection(world):
    worker, schedule = world.process(), world.process()
    world.zendesk.expire_access_tokens()

    rotations = []

    def schedule_rotates_first():  # the schedule's refresh lands between the worker's grant and its retry
        if not rotations:
            rotations.append(schedule.tokens.refresh("acme", schedule.tokens.stored("acme").fingerprint()))
        return world.zendesk.call(worker.tokens.authorization("acme"))

    assert worker.tokens.after_unauthorized("acme", world.secret.value.fingerprint(), schedule_rotates_first) == "ok"
    assert world.zendesk.grants == 2


def test_a_call_whose_token_others_keep_rotating_is_given_up_for_now_not_broken(world):
    worker, other = world.process(), world.process()
    world.zendesk.expire_access_tokens()

    def rotated_by_another_process_first():
        other.tokens.refresh("acme", other.tokens.stored("acme").fingerprint())
        world.zendesk.expire_access_tokens()  # and refused before this call can use it
        return world.zendesk.call(worker.tokens.authorization("acme"))

    with pytest.raises(ZendeskUnauthorizedError):
        worker.tokens.after_unauthorized("acme", world.secret.value.fingerprint(), rotated_by_another_process_first)


def test_a_new_grant_installed_while_a_refresh_is_in_flight_is_not_overwritten(world):
    # given the schedule refreshing with the old pair, and a reconnect storing a new grant in the middle of it
    schedule = world.process()
    callback = world.process()
    new_grant = world.zendesk.issue()

    def reconnect_meanwhile():
        callback.tokens.install("acme", replace(callback.tokens.stored("acme"), tokens=new_grant))

    world.zendesk.before_grant = reconnect_meanwhile

    # when the refresh completes
    schedule.tokens.refresh("acme", schedule.tokens.stored("acme").fingerprint())

    # then what the reconnect stored stays stored (the refresh's result, from the old grant, is discarded)
    assert world.stored().access_token == new_grant.access_token


def test_installing_a_grant_waits_for_a_refresh_that_holds_the_lease(world):
    # given a refresh that holds the account's lease
    holder = world.process()
    leases = holder.tokens._leases
    assert leases.acquire("ACCOUNT#acme", "refresh", "someone", world.clock(), 60)
    installer = world.process()
    new_grant = world.zendesk.issue()

    # when the lease is released while the installer waits, the grant is stored then, not before
    world.clock.now += 1
    released = threading.Timer(0.05, lambda: leases.release("ACCOUNT#acme", "refresh", "someone"))
    released.start()
    installer.tokens.install("acme", replace(installer.tokens.stored("acme"), tokens=new_grant))
    released.join()

    assert world.stored().access_token == new_grant.access_token


def test_the_refresh_lease_outlasts_the_token_endpoints_slowest_answer():
    from round_robin.accounts import tokens
    from round_robin.zendesk import oauth

    connect_timeout, read_timeout = oauth._TIMEOUT
    slowest = 3 * (connect_timeout + read_timeout) + 0.25 + 0.5  # three attempts and their backoff
    assert tokens.LEASE_SECONDS > slowest + tokens.SAVE_ATTEMPTS * 5
