"""KeyReader's policy over an in-memory Secret Manager client and a simulated clock.

The fake answers ``access_secret_version`` the way the real client does and counts accesses;
the clock and sleep are passed in, so every timing rule is checked exactly and instantly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from google.api_core import exceptions
from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
from momento_key_reader import AsyncKeyReader, KeyReader, KeyUnavailableError, failures

from devtools.consumer_bench import report
from momento_key_common.grpc_status import status_name
from momento_key_common.token import parse_api_key
from tests.keys import ENDPOINT, legacy_key, v1_key, v2_key

ROOT = Path(__file__).resolve().parents[2]
SECRET = "projects/demo-project/secrets/momento-api-key"
NOW = 1_900_000_000.0
DAY = 86_400


class FakeClock:
    """Epoch seconds that move only when a test (or the reader's sleep) moves them."""

    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeSecretManager:
    """One secret's versions, served like ``SecretManagerServiceClient.access_secret_version``."""

    def __init__(self) -> None:
        self.versions: list[bytes] = []
        self.errors: list[Exception] = []  # raised by the next accesses, in order
        self.always_failing: Exception | None = None
        self.accessed: list[str] = []
        self.gate: threading.Event | None = None  # when set, accesses wait for it
        self.crc32c: int | None = None  # the checksum sent with every payload (None: none)
        self._lock = threading.Lock()

    @property
    def accesses(self) -> int:
        return len(self.accessed)

    def add(self, payload: bytes) -> str:
        self.versions.append(payload)
        return f"{SECRET}/versions/{len(self.versions)}"

    def access_secret_version(self, *, name: str, retry: object, timeout: float) -> object:
        assert retry is None, "the reader retries itself, so every access is counted"
        with self._lock:
            self.accessed.append(name)
            error = self.errors.pop(0) if self.errors else self.always_failing
        if self.gate is not None:
            assert self.gate.wait(10)
        if error is not None:
            raise error
        payload = SimpleNamespace(data=self.versions[-1], data_crc32c=self.crc32c)
        return SimpleNamespace(name=f"{SECRET}/versions/{len(self.versions)}", payload=payload)


def key(expires_in: float = 30 * DAY, **claims: object) -> str:
    return v1_key(exp=int(NOW + expires_in), **claims)


def new_jwt(api_key: str) -> str:
    return parse_api_key(api_key).jwt


def doc(api_key: str, **fields: object) -> bytes:
    return json.dumps({"apiKey": api_key, "refreshToken": "refresh-token-0001", **fields}).encode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> FakeSecretManager:
    return FakeSecretManager()


@pytest.fixture
def make_reader(clock: FakeClock, store: FakeSecretManager):
    def make(**options) -> KeyReader:
        return KeyReader(SECRET, client=store, clock=clock, sleep=clock.sleep, **options)

    return make


# -- reading and caching ------------------------------------------------------------------------


def test_reads_latest_once_then_serves_from_memory(store, make_reader):
    first = key()
    store.add(doc(first))
    reader = make_reader()
    assert {reader.api_key() for _ in range(1000)} == {first}
    assert store.accessed == [f"{SECRET}/versions/latest"]


@pytest.mark.parametrize(
    ("expires_in", "next_access_after"),
    [
        (30 * DAY, 300),  # max_age
        (None, 300),  # a key that never expires: max_age
        (2 * 3600, 300),  # the margin (1 h) starts after max_age
        (3600 + 100, 100),  # the margin starts before max_age
        (1800, 30),  # inside the margin: every min_interval
        (10, 10),  # expires before min_interval: at its expiry, when it cannot be served
    ],
    ids=["far", "never-expires", "margin-later", "margin-sooner", "in-margin", "about-to-expire"],
)
def test_re_reads_at_max_age_or_near_the_keys_own_expiry(
    clock, store, make_reader, expires_in, next_access_after
):
    store.add(doc(v1_key(exp=None if expires_in is None else int(NOW + expires_in))))
    reader = make_reader()
    reader.api_key()
    store.add(doc(key()))  # a rotation, so the re-read finds a key it can serve
    clock.advance(next_access_after - 0.5)
    reader.api_key()
    assert store.accesses == 1
    clock.advance(0.5)
    reader.api_key()
    assert store.accesses == 2


def test_max_age_is_configurable(clock, store, make_reader):
    store.add(doc(key()))
    reader = make_reader(max_age=timedelta(minutes=1))
    for _ in range(10):  # ten minutes of calls, one a second
        for _ in range(60):
            reader.api_key()
            clock.advance(1)
    assert store.accesses == 10


def test_a_rotated_key_is_served_from_the_first_call_after_max_age(clock, store, make_reader):
    old, new = key(), key(sub="rotated")
    store.add(doc(old))
    reader = make_reader()
    assert reader.api_key() == old
    assert reader.version == f"{SECRET}/versions/1"
    store.add(doc(new))
    clock.advance(299)
    assert reader.api_key() == old
    clock.advance(1)
    assert reader.api_key() == new
    assert reader.version == f"{SECRET}/versions/2"
    assert reader.expires_at == datetime.fromtimestamp(NOW + 30 * DAY, UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {"apiKey": "K"},
        {"authToken": "K"},
        {"apiToken": "K"},
        {"apiKey": "K", "authToken": "K"},  # what the function writes into every key field
        {"apiKey": "K", "refreshToken": ""},  # stored although Momento sent no refresh token
        {"authToken": "K", "refreshToken": None},  # no refresh token field at all
        {"apiKey": "K", "validUntil": 0},  # a validUntil that lies: the JWT exp is the truth
        {"apiKey": "K", "validUntil": "1900000001", "endpoint": ENDPOINT, "extra": {"a": 1}},
    ],
    ids=[
        "apiKey",
        "authToken",
        "apiToken",
        "two-fields",
        "empty-refresh-token",
        "no-refresh-token",
        "validUntil-0",
        "string-validUntil",
    ],
)
def test_reads_every_document_form_the_function_reads_and_writes(store, make_reader, fields):
    expected = key()
    document = {"refreshToken": "refresh-token-0001"}
    document.update({k: expected if v == "K" else v for k, v in fields.items()})
    store.add(json.dumps({k: v for k, v in document.items() if v is not None}).encode())
    reader = make_reader()
    assert reader.api_key() == expected
    assert reader.expires_at == datetime.fromtimestamp(NOW + 30 * DAY, UTC)


def test_reads_a_legacy_key(store, make_reader):
    legacy = legacy_key(exp=int(NOW + DAY))
    store.add(doc(legacy))
    reader = make_reader()
    assert reader.api_key() == legacy
    assert reader.credential_provider().control_endpoint == f"control.{ENDPOINT}"


# -- concurrency --------------------------------------------------------------------------------


def _run_threads(count, target):
    results: list[object] = []
    barrier = threading.Barrier(count)

    def run():
        barrier.wait()
        results.append(target())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def test_a_hundred_threads_asking_at_once_cause_one_access(store, make_reader):
    """Single flight: the first read is shared by every thread that arrives while it runs."""
    expected = key()
    store.add(doc(expected))
    store.gate = threading.Event()
    reader = make_reader()
    threads, results = _run_threads(100, reader.api_key)
    while store.accesses == 0:
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)  # let the others reach the wait
    store.gate.set()
    for thread in threads:
        thread.join(10)
    assert results == [expected] * 100
    assert store.accesses == 1


def test_at_max_age_one_thread_re_reads_while_the_others_get_the_cached_key(
    clock, store, make_reader
):
    cached = key()
    store.add(doc(cached))
    reader = make_reader()
    reader.api_key()
    clock.advance(300)
    store.gate = threading.Event()
    threads, results = _run_threads(100, reader.api_key)
    while len(results) < 99:  # everyone but the reading thread, while its access hangs
        threading.Event().wait(0.01)
    store.gate.set()
    for thread in threads:
        thread.join(10)
    assert results == [cached] * 100
    assert store.accesses == 2


def test_async_reader_shares_one_access_between_a_hundred_coroutines(store, make_reader):
    expected = key()
    store.add(doc(expected))
    reader = AsyncKeyReader(make_reader())

    async def main():
        return await asyncio.gather(*(reader.api_key() for _ in range(100)))

    assert asyncio.run(main()) == [expected] * 100
    assert store.accesses == 1


def test_async_reader_serves_the_same_policy(clock, store, make_reader):
    old, new = key(), key(sub="rotated")
    store.add(doc(old))
    reader = AsyncKeyReader(make_reader())

    async def scenario():
        seen = [await reader.api_key()]
        store.add(doc(new))
        clock.advance(300)
        seen.append(await reader.api_key())
        provider = await reader.credential_provider()
        return seen, provider, await reader.expires_at()

    seen, provider, expires_at = asyncio.run(scenario())
    assert seen == [old, new]
    assert provider.auth_token == new_jwt(new)
    assert expires_at == datetime.fromtimestamp(NOW + 30 * DAY, UTC)
    assert store.accesses == 2


# -- failures -----------------------------------------------------------------------------------


def test_a_failed_re_read_keeps_serving_the_cached_key_and_backs_off(
    clock, store, make_reader, caplog
):
    cached = key()
    store.add(doc(cached))
    reader = make_reader()
    reader.api_key()
    store.always_failing = exceptions.ServiceUnavailable("the service is down")
    clock.advance(300)
    access_times = []
    with caplog.at_level(logging.WARNING, logger="momento_key_reader"):
        for _ in range(600):  # ten minutes, one call a second
            before = store.accesses
            assert reader.api_key() == cached
            if store.accesses > before:
                access_times.append(clock.now - NOW - 300)
            clock.advance(1)
    assert access_times == [0, 1, 3, 7, 15, 31, 63, 123, 183, 243, 303, 363, 423, 483, 543]
    assert clock.sleeps == []  # callers with a valid key never wait out a backoff
    warning = caplog.records[0]
    assert warning.levelname == "WARNING"
    assert "still serving the key from" in warning.getMessage()
    assert "secret_manager_unavailable" in warning.getMessage()
    assert warning.event == "momento_key.read_failed"


def test_recovery_resets_the_backoff(clock, store, make_reader):
    store.add(doc(key()))
    reader = make_reader()
    reader.api_key()
    store.errors = [exceptions.ServiceUnavailable("down")] * 3
    clock.advance(300)
    reader.api_key()
    for wait in (1, 2, 4):  # failed at +0, +1, +3; succeeds at +7
        clock.advance(wait)
        reader.api_key()
    assert store.accesses == 5
    clock.advance(299)
    reader.api_key()
    assert store.accesses == 5
    clock.advance(1)
    reader.api_key()
    assert store.accesses == 6


def test_the_first_read_retries_a_transient_error(clock, store, make_reader):
    expected = key()
    store.add(doc(expected))
    store.errors = [exceptions.ServiceUnavailable("blip"), exceptions.DeadlineExceeded("slow")]
    assert make_reader().api_key() == expected
    assert store.accesses == 3
    assert clock.sleeps == [1, 2]


def test_without_any_key_it_raises_a_clear_error_then_backs_off(clock, store, make_reader):
    store.add(doc(key()))
    store.always_failing = exceptions.ServiceUnavailable("the service is down")
    reader = make_reader()
    with pytest.raises(KeyUnavailableError) as raised:
        reader.api_key()
    assert store.accesses == 3
    assert raised.value.code == "secret_manager_unavailable"
    assert str(raised.value).startswith(f"no valid Momento key for {SECRET}: ")
    for _ in range(3):  # during the backoff: the same error at once, no access
        with pytest.raises(KeyUnavailableError):
            reader.api_key()
    assert store.accesses == 3
    clock.advance(4)
    store.always_failing = None
    assert reader.api_key()
    assert store.accesses == 4


@pytest.mark.parametrize(
    ("setup", "code", "advice"),
    [
        (
            lambda s: setattr(s, "always_failing", exceptions.NotFound("Secret not found")),
            "not_found",
            "check the secret name",
        ),
        (
            lambda s: setattr(s, "always_failing", exceptions.PermissionDenied("denied")),
            "permission_denied",
            "roles/secretmanager.secretAccessor",
        ),
        (
            lambda s: setattr(s, "always_failing", exceptions.FailedPrecondition("DISABLED")),
            "latest_version_not_enabled",
            "check the version's state and the key",
        ),
        (
            lambda s: setattr(s, "always_failing", DefaultCredentialsError("none")),
            "no_credentials",
            "gcloud auth application-default login",
        ),
        (lambda s: s.add(b"not json"), "invalid_token_document", "the payload is not JSON"),
        (lambda s: s.add(doc(key(expires_in=-60))), "key_expired", "check its logs"),
        (lambda s: s.add(doc(v2_key(exp=int(NOW + DAY)))), "v2_key_not_refreshable", "v2"),
        (
            lambda s: setattr(s, "always_failing", RuntimeError("anything at all")),
            "secret_manager_error",
            "raised RuntimeError",
        ),
    ],
    ids=[
        "not-found",
        "permission-denied",
        "latest-disabled",
        "no-credentials",
        "not-a-document",
        "expired-key",
        "v2-key",
        "unexpected",
    ],
)
def test_each_failure_without_a_key_is_named_with_what_to_do(
    store, make_reader, setup, code, advice
):
    """Errors that retrying cannot fix cost one access, not three."""
    setup(store)
    with pytest.raises(KeyUnavailableError) as raised:
        make_reader().api_key()
    assert raised.value.code == code
    assert SECRET in str(raised.value)
    assert advice in str(raised.value)
    assert "anything at all" not in str(raised.value)  # unknown errors: only their type
    assert store.accesses == 1


def _failing(error: Exception):
    return lambda s: setattr(s, "always_failing", error)


# Every kind of failure the reader names, by the exception (or check) behind it, and the words
# of its advice. Kinds in momento_key_reader's table must all be here (checked below).
FAILURE_KINDS = [
    ("NotFound", _failing(exceptions.NotFound("Secret not found")), "check the secret name"),
    (
        "PermissionDenied",
        _failing(exceptions.PermissionDenied("Permission denied on resource")),
        "grant this application's service account",
    ),
    (
        "FailedPrecondition",
        _failing(exceptions.FailedPrecondition("Secret Version [v] is in DISABLED state.")),
        "check the version's state and the key",
    ),
    (
        "Unauthenticated",
        _failing(exceptions.Unauthenticated("Request had invalid credentials.")),
        "check them",
    ),
    (
        "InvalidArgument",
        _failing(exceptions.InvalidArgument("Invalid resource field value")),
        "check the secret name",
    ),
    ("ServiceUnavailable", _failing(exceptions.ServiceUnavailable("down")), "it is retried"),
    ("InternalServerError", _failing(exceptions.InternalServerError("oops")), "it is retried"),
    ("DeadlineExceeded", _failing(exceptions.DeadlineExceeded("slow")), "it is retried"),
    (
        "ResourceExhausted",
        _failing(exceptions.ResourceExhausted("Quota exceeded")),
        "find what else reads secrets so often",
    ),
    (
        "DefaultCredentialsError",
        _failing(DefaultCredentialsError("none")),
        "gcloud auth application-default login",
    ),
    ("RefreshError", _failing(RefreshError("refused")), "check them"),
    ("TransportError", _failing(TransportError("no route")), "it is retried"),
    # momento_key_common.token's own messages, with what to do (not said again by the reader) ...
    ("TokenDocumentError", lambda s: s.add(b"not json"), "add a version holding the JSON"),
    ("TokenDocumentError", lambda s: s.add(b'{"x": 1}'), "add a version holding the JSON"),
    (
        "TokenDocumentError",
        lambda s: s.add(b'{"apiKey": "no-dots-no-base64"}'),
        "check that the secret holds a Momento API key",
    ),
    # ... every momento_key_common.token message says what to do itself (tested there).
    (
        "TokenDocumentError",
        lambda s: s.add(b'{"apiKey": 5}'),
        "add a version holding the JSON Momento's console downloads",
    ),
    ("checksum", lambda s: (s.add(doc(key())), setattr(s, "crc32c", 1)), "add a new version"),
    ("v2", lambda s: s.add(doc(v2_key(exp=int(NOW + DAY)))), "store a v1 key"),
    ("expired", lambda s: s.add(doc(key(expires_in=-60))), "check its logs"),
    ("unexpected", _failing(RuntimeError("anything")), "this is a bug in the reader"),
]
_FAILURE_IDS = [
    "not-found",
    "permission-denied",
    "failed-precondition",
    "unauthenticated",
    "invalid-argument",
    "unavailable",
    "internal",
    "deadline",
    "quota",
    "no-credentials",
    "refresh-error",
    "transport-error",
    "not-json",
    "no-key",
    "not-a-key",
    "key-not-a-string",
    "checksum",
    "v2-key",
    "expired-key",
    "unexpected",
]
# The verbs advice starts with. "it is retried" is no instruction, so transient kinds have none.
_IMPERATIVES = frozenset(
    {"add", "build", "check", "enable", "find", "grant", "remove", "run", "store", "try"}
)


def _advice_clauses(message: str) -> list[str]:
    """The clauses of a message that tell the reader what to do."""
    clauses = re.split(r"[;:.]\s+|[()]", message)
    return [c.strip() for c in clauses if c.strip().split(" ", 1)[0] in _IMPERATIVES]


def test_every_status_the_reader_advises_on_is_in_the_table():
    covered = {
        status_name(getattr(exceptions, kind)("x"))
        for kind, _, _ in FAILURE_KINDS
        if hasattr(exceptions, kind)
    }
    assert set(failures.ADVICE) <= covered


@pytest.mark.parametrize(
    ("setup", "advice"), [case[1:] for case in FAILURE_KINDS], ids=_FAILURE_IDS
)
def test_each_failure_message_says_what_to_do_once(clock, caplog, setup, advice):
    """In the error and in both log records (without a key, and serving a cached one)."""
    empty = FakeSecretManager()
    setup(empty)
    with caplog.at_level(logging.WARNING, logger="momento_key_reader"):
        with pytest.raises(KeyUnavailableError) as raised:
            KeyReader(SECRET, client=empty, clock=clock, sleep=clock.sleep).api_key()
        served = FakeSecretManager()
        served.add(doc(key()))
        reader = KeyReader(SECRET, client=served, clock=clock, sleep=clock.sleep)
        reader.api_key()
        setup(served)
        clock.advance(300)
        reader.api_key()
    (error_log, warning_log) = [r.getMessage() for r in caplog.records]
    assert "still serving the key from" in warning_log
    for message in (str(raised.value), error_log, warning_log):
        said = _advice_clauses(message)
        assert len(said) == len(set(said)) <= 1, message
    for message in (str(raised.value), error_log):
        assert message.count(advice) == 1, message


def test_a_failed_precondition_names_both_causes_and_keeps_the_services_words(
    clock, store, make_reader
):
    """The version may be ENABLED with its CMEK key disabled; the reader never gets the version
    (quota) to tell which, so it names both, next to what Secret Manager said."""
    cached = key(expires_in=600)
    store.add(doc(cached))
    reader = make_reader()
    reader.api_key()
    store.always_failing = exceptions.FailedPrecondition(
        "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1 is not "
        f"enabled, current state is: DISABLED ({cached})"
    )
    clock.advance(600)  # the cached key expired: nothing to serve
    with pytest.raises(KeyUnavailableError) as raised:
        reader.api_key()
    message = str(raised.value)
    assert raised.value.code == "latest_version_not_enabled"
    assert (
        "Secret Manager: projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1 "
        "is not enabled, current state is: DISABLED ([REDACTED])" in message
    )
    assert (
        "the latest version is disabled or destroyed, or the Cloud KMS key that encrypts it is "
        "disabled: check the version's state and the key" in message
    )
    assert cached not in message
    assert new_jwt(cached) not in message


def test_an_expired_cached_key_is_never_served(clock, store, make_reader):
    store.add(doc(key(expires_in=600)))
    reader = make_reader()
    reader.api_key()
    store.always_failing = exceptions.ServiceUnavailable("down")
    clock.advance(600)
    with pytest.raises(KeyUnavailableError, match="the cached key expired at 2030-03-17T17:56:40Z"):
        reader.api_key()


def test_an_interrupted_read_never_leaves_callers_waiting(store, make_reader):
    """Even a BaseException inside the access ends the single flight and counts as a failure."""

    class Interrupted(BaseException):
        pass

    store.add(doc(key()))
    store.errors = [Interrupted()]
    reader = make_reader()
    with pytest.raises(Interrupted):
        reader.api_key()
    with pytest.raises(KeyUnavailableError, match="the read was interrupted"):
        reader.api_key()  # backing off, not hanging on a read that will never finish
    assert store.accesses == 1


# -- invalidate ---------------------------------------------------------------------------------


def test_invalidate_forces_one_re_read_at_most_every_30_seconds(clock, store, make_reader):
    old, new = key(), key(sub="rotated")
    store.add(doc(old))
    reader = make_reader()
    reader.api_key()
    store.add(doc(new))
    clock.advance(10)
    assert reader.invalidate() is False  # the last read was 10 s ago
    assert reader.api_key() == old
    clock.advance(20)
    assert reader.invalidate() is True
    assert reader.api_key() == new
    assert store.accesses == 2


def test_a_storm_of_authentication_errors_costs_one_access(clock, store, make_reader):
    store.add(doc(key()))
    reader = make_reader()
    reader.api_key()
    clock.advance(60)
    for _ in range(5000):  # every call fails with UNAUTHENTICATED and invalidates
        reader.invalidate()
        reader.api_key()
        clock.advance(0.001)
    assert store.accesses == 2


def test_after_invalidate_a_failed_re_read_still_serves_the_unexpired_key(
    clock, store, make_reader
):
    cached = key()
    store.add(doc(cached))
    reader = make_reader()
    reader.api_key()
    clock.advance(30)
    store.always_failing = exceptions.ServiceUnavailable("down")
    assert reader.invalidate() is True
    assert reader.api_key() == cached
    assert store.accesses == 2


def test_invalidate_before_any_read_does_nothing(store, make_reader):
    store.add(doc(key()))
    assert make_reader().invalidate() is False
    assert store.accesses == 0


# -- the Momento credential ---------------------------------------------------------------------


def test_credential_provider_targets_the_keys_endpoints(store, make_reader):
    api_key = key()
    store.add(doc(api_key))
    provider = make_reader().credential_provider()
    assert provider.auth_token == new_jwt(api_key)
    assert (provider.control_endpoint, provider.cache_endpoint, provider.token_endpoint) == (
        f"control.{ENDPOINT}",
        f"cache.{ENDPOINT}",
        f"token.{ENDPOINT}",
    )
    assert provider.port == 443


def test_credential_provider_is_the_same_object_until_the_key_changes(clock, store, make_reader):
    store.add(doc(key()))
    reader = make_reader()
    first = reader.credential_provider()
    clock.advance(300)  # re-read, same key
    assert reader.credential_provider() is first
    store.add(doc(key(sub="rotated")))
    clock.advance(300)
    assert reader.credential_provider() is not first


def test_credential_provider_can_target_a_local_emulator(store, make_reader):
    store.add(doc(key()))
    provider = make_reader().credential_provider(emulator_address="127.0.0.1:50051")
    assert (provider.control_endpoint, provider.cache_endpoint, provider.port) == (
        "127.0.0.1",
        "127.0.0.1",
        50051,
    )


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:http", ":50051", "localhost:443"])
def test_credential_provider_refuses_a_bad_emulator_address(store, make_reader, address):
    store.add(doc(key()))
    with pytest.raises(ValueError, match="emulator_address"):
        make_reader().credential_provider(emulator_address=address)


# -- names --------------------------------------------------------------------------------------

REGIONAL = "projects/demo-project/locations/us-central1/secrets/momento-api-key"


@pytest.mark.parametrize(
    ("secret", "project", "expected"),
    [
        (SECRET, None, SECRET),
        (SECRET, "demo-project", SECRET),
        ("momento-api-key", "demo-project", SECRET),
        ("momento-api-key", None, "pass project="),
        (f"{SECRET}/versions/3", None, "name no version"),
        (SECRET, "other-project", "is not in project"),
        ("not a name", "demo-project", "not a secret name"),
        (REGIONAL, None, REGIONAL),
        (REGIONAL, "demo-project", REGIONAL),
        ("momento-api-key", "demo-project/locations/us-central1", "not a project id"),
        ("projects/p/locations/US_CENTRAL/secrets/s", None, "not a location id"),
    ],
    ids=[
        "full",
        "full-and-project",
        "short",
        "short-no-project",
        "version",
        "mismatch",
        "junk",
        "regional",
        "regional-and-project",
        "location-in-project",
        "bad-location",
    ],
)
def test_secret_names(secret, project, expected):
    if expected in (SECRET, REGIONAL):
        assert KeyReader(secret, project=project).secret == expected
    else:
        with pytest.raises(ValueError, match=expected):
            KeyReader(secret, project=project)


# -- never a secret in logs or errors -----------------------------------------------------------


def test_no_key_or_refresh_token_reaches_a_log_or_an_error(clock, store, make_reader, caplog):
    first, second = key(), key(sub="rotated")
    store.add(doc(first))
    reader = make_reader()
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="momento_key_reader"):
        reader.api_key()  # first read
        store.add(doc(second))
        clock.advance(300)
        reader.api_key()  # changed
        clock.advance(300)
        reader.api_key()  # unchanged
        store.always_failing = exceptions.ServiceUnavailable(f"echoing {second}")
        clock.advance(300)
        reader.api_key()  # failed re-read, cached
        clock.advance(30)
        reader.invalidate()
        clock.advance(30 * DAY)
        try:
            reader.api_key()
        except KeyUnavailableError as error:
            seen.append(str(error))
        seen.append(repr(reader))
        store.always_failing = None
        store.add(b'{"apiKey": "' + first.encode() + b'x", "refreshToken": "refresh-token-0001"}')
        clock.advance(3600)
        try:
            reader.api_key()
        except KeyUnavailableError as error:
            seen.append(str(error))
    text = caplog.text + "\n".join(seen) + "".join(str(vars(r)) for r in caplog.records)
    assert len(caplog.records) >= 5
    assert "echoing [REDACTED]" in text  # a service message quoting the cached key
    for value in (first, second, new_jwt(first), new_jwt(second), "refresh-token-0001"):
        assert value not in text


def test_the_services_own_words_are_passed_on(store, make_reader):
    """Secret Manager's message says what is wrong; an access error never holds a payload."""
    store.add(doc(key()))
    store.always_failing = exceptions.NotFound("Secret [projects/p/secrets/s] not found")
    with pytest.raises(
        KeyUnavailableError, match=r"Secret Manager: Secret \[projects/p/secrets/s\]"
    ):
        make_reader().api_key()


def test_repr_names_no_key(store, make_reader):
    api_key = key()
    store.add(doc(api_key))
    reader = make_reader()
    reader.api_key()
    assert repr(reader) == f"KeyReader(secret='{SECRET}', version='{SECRET}/versions/1')"


# -- lean ---------------------------------------------------------------------------------------


def test_importing_the_reader_loads_nothing_of_the_function():
    """An application imports momento_key_reader without the function's configuration, Flask,
    functions-framework, or even Momento and the Secret Manager client (loaded on first use)."""
    probe = "import json, sys\nimport momento_key_reader\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(done.stdout))
    forbidden = {
        "rotation.rules.config",
        "rotation.service.runtime",
        "rotation.faces.http",
        "rotation.service.rotate",
        "flask",
        "functions_framework",
        "momento",
        "google.cloud.secretmanager",
    }
    assert loaded & forbidden == set()
    # Only the reader and what it shares with the function: nothing of rotation/.
    ours = {
        name
        for name in loaded
        if name.partition(".")[0] in ("rotation", "momento_key_common", "momento_key_reader")
    }
    assert ours == {
        "momento_key_reader",
        "momento_key_reader.failures",
        "momento_key_reader.reader",
        "momento_key_common",
        "momento_key_common.clients",
        "momento_key_common.errors",
        "momento_key_common.grpc_status",
        "momento_key_common.names",
        "momento_key_common.redact",
        "momento_key_common.token",
    }


# -- the benchmark's figures --------------------------------------------------------------------


def test_the_benchmark_counts_accesses_per_hour():
    """The README quotes these at 50 calls/s; the reader's counts do not depend on the rate."""
    rows = {line[:46].strip(): line[46:].strip() for line in report(5)[2:8]}
    assert rows == {
        "read versions/latest on every call": "18,000",
        "KeyReader, default policy": "12",
        "+ the function rotates the key at 20:00": "12",
        "+ Momento refuses every call for a minute": "13",
        "+ Secret Manager is down for 10 minutes": "25",
        "+ the key expires in 1 h, never rotated": "120",
    }
