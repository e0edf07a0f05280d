"""The application's KeyReader against the Secret Manager emulator, with the real client.

The function rotates keys underneath a running reader through its own app, and the reader's
credential is used by Momento's real CacheClient against the Momento emulator. Every test also
checks that the reader's log records hold no key, refresh token or payload.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
from momento import CacheClient, Configurations
from momento.errors import MomentoErrorCode
from momento.responses import ListCaches
from momento_key_reader import AsyncKeyReader, KeyReader, KeyUnavailableError

from tests.integration.conftest import PROJECT, World

DAY = timedelta(days=1)
# What the reader may call; everything else (get, list) has a quota 150 times smaller.
READ_ONLY = ("AccessSecretVersion",)


class Clock:
    """Real time, moved forward by hand: keys the emulator mints expire in real time."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Calls:
    """The Secret Manager RPCs received since this was made."""

    def __init__(self, world: World) -> None:
        self._calls = world.secret_manager.calls
        self._before = collections.Counter(self._calls)

    def since(self) -> dict[str, int]:
        return dict(collections.Counter(self._calls) - self._before)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def reader_logs(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every reader log line, at every level, is searched for the test's secret values."""
    caplog.set_level(logging.DEBUG, logger="momento_key_reader")
    yield
    leaked = [value[:6] + "..." for value in world.secret_values() if value in caplog.text]
    assert not leaked, f"secret values in the reader's logs: {leaked}"


@pytest.fixture
def make_reader(world: World, clock: Clock):
    readers: list[KeyReader] = []

    def make(secret: str, **options) -> KeyReader:
        reader = KeyReader(
            secret,
            emulator_host=world.secret_manager.address,
            clock=clock,
            sleep=clock.sleep,
            **options,
        )
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.close()


def cache_client(world: World, reader: KeyReader) -> CacheClient:
    provider = reader.credential_provider(emulator_address=world.momento.address)
    return CacheClient.create(Configurations.Laptop.latest(), provider, timedelta(seconds=60))


def test_reads_latest_once_then_serves_from_memory(world, make_reader):
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=20 * DAY)
    calls = Calls(world)
    reader = make_reader(secret)
    assert {reader.api_key() for _ in range(200)} == {issued.api_key}
    assert reader.version.endswith("/versions/1")
    assert calls.since() == {"AccessSecretVersion": 1}


def test_a_short_name_and_project_read_the_same_secret(world, make_reader):
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=20 * DAY)
    assert make_reader(secret.rsplit("/", 1)[1], project=PROJECT).api_key() == issued.api_key


def test_a_hundred_threads_asking_at_once_cause_one_access(world, make_reader):
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=20 * DAY)
    # The access takes 0.3 s, so every thread arrives while it is in flight.
    world.secret_manager.inject_fault("AccessSecretVersion", grpc.StatusCode.OK, delay=0.3)
    calls = Calls(world)
    reader = make_reader(secret)
    barrier = threading.Barrier(100)
    keys: list[str] = []

    def ask() -> None:
        barrier.wait()
        keys.append(reader.api_key())

    threads = [threading.Thread(target=ask) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert keys == [issued.api_key] * 100
    assert calls.since() == {"AccessSecretVersion": 1}


def test_async_reader_shares_one_access_between_a_hundred_coroutines(world, make_reader):
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.inject_fault("AccessSecretVersion", grpc.StatusCode.OK, delay=0.3)
    calls = Calls(world)
    reader = AsyncKeyReader(make_reader(secret))

    async def ask_all() -> list[str]:
        return await asyncio.gather(*(reader.api_key() for _ in range(100)))

    assert asyncio.run(ask_all()) == [issued.api_key] * 100
    assert calls.since() == {"AccessSecretVersion": 1}


@pytest.mark.parametrize("field", ["apiKey", "authToken", "apiToken"])
def test_picks_up_the_functions_rotation_without_a_restart(world, make_reader, clock, field):
    """The function rotates the key underneath a running reader; the reader serves the new key
    from its first call after max_age, in whichever field the document keeps it."""
    secret = world.new_secret()
    issued = world.issue(expires_in=DAY)
    document = issued.console_json()
    document[field] = document.pop("apiKey")
    world.seed(secret, document)
    reader = make_reader(secret)
    with cache_client(world, reader) as client:
        assert isinstance(client.list_caches(), ListCaches.Success)
    assert reader.api_key() == issued.api_key

    assert world.call({"force": True}).only()["action"] == "refreshed"
    rotated = world.document(secret)[field]
    clock.advance(299)
    assert reader.api_key() == issued.api_key
    clock.advance(1)
    assert reader.api_key() == rotated
    assert reader.version.endswith("/versions/2")
    assert reader.expires_at is not None
    assert reader.expires_at.timestamp() > issued.valid_until
    with cache_client(world, reader) as client:
        assert isinstance(client.list_caches(), ListCaches.Success)


@pytest.mark.parametrize(
    "shape",
    ["empty-refresh-token", "no-refresh-token", "legacy-key", "every-key-field"],
)
def test_reads_documents_the_function_cannot_refresh_but_whose_key_works(world, make_reader, shape):
    """A key stored without a refresh token (Momento sent none) still works until it expires."""
    secret = world.new_secret()
    issued = world.issue(expires_in=20 * DAY, form="legacy" if shape == "legacy-key" else "v1")
    document = issued.console_json()
    if shape == "empty-refresh-token":
        document["refreshToken"] = ""
    elif shape == "no-refresh-token":
        del document["refreshToken"]
    elif shape == "every-key-field":
        document.update(authToken=issued.api_key, apiToken=issued.api_key)
    world.seed(secret, document)
    reader = make_reader(secret)
    assert reader.api_key() == issued.api_key
    with cache_client(world, reader) as client:
        assert isinstance(client.list_caches(), ListCaches.Success)


def test_a_failed_re_read_serves_the_cached_key_logs_and_backs_off(
    world, make_reader, clock, caplog
):
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=20 * DAY)
    reader = make_reader(secret)
    reader.api_key()
    world.secret_manager.inject_fault("AccessSecretVersion", grpc.StatusCode.UNAVAILABLE, times=-1)
    calls = Calls(world)
    clock.advance(300)
    for _ in range(100):  # 100 calls in the next 0.99 s: one access, then the 1 s backoff
        assert reader.api_key() == issued.api_key
        clock.advance(0.0099)
    assert calls.since() == {"AccessSecretVersion": 1}
    clock.advance(0.02)
    assert reader.api_key() == issued.api_key
    assert calls.since() == {"AccessSecretVersion": 2}
    (warning, *_) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.event == "momento_key.read_failed"
    assert warning.error_code == "secret_manager_unavailable"
    assert "still serving the key from" in warning.getMessage()

    world.secret_manager.clear_faults()
    world.seed_key(secret, expires_in=20 * DAY)
    clock.advance(2)
    assert reader.api_key() != issued.api_key
    assert reader.version.endswith("/versions/2")


@pytest.mark.parametrize(
    ("shape", "code", "advice"),
    [
        ("no-secret", "not_found", "check the secret name"),
        ("no-version", "not_found", "check the secret name"),
        (
            "latest-disabled",
            "latest_version_not_enabled",
            "Secret Manager: Secret Version [",  # its own words: the version and its state
        ),
        (
            # ENABLED, but its Cloud KMS key is disabled: Secret Manager's FAILED_PRECONDITION,
            # which this emulator has no CMEK to produce, so it is injected.
            "kms-key-disabled",
            "latest_version_not_enabled",
            "Secret Manager: the Cloud KMS key version k/1 is DISABLED",
        ),
        ("expired-key", "key_expired", "the rotation function has not refreshed it"),
        ("not-a-document", "invalid_token_document", "the payload is not JSON"),
    ],
)
def test_without_a_valid_key_the_error_names_the_secret_and_what_to_do(
    world, make_reader, shape, code, advice
):
    secret = f"projects/{PROJECT}/secrets/never-created-{shape}"
    if shape != "no-secret":
        secret = world.new_secret()
    if shape == "latest-disabled":
        world.seed_key(secret, expires_in=20 * DAY)
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), state="DISABLED")
    elif shape == "kms-key-disabled":
        world.seed_key(secret, expires_in=20 * DAY)
        world.secret_manager.inject_fault(
            "AccessSecretVersion",
            grpc.StatusCode.FAILED_PRECONDITION,
            message="the Cloud KMS key version k/1 is DISABLED.",
        )
    elif shape == "expired-key":
        world.seed_key(secret, expires_in=-timedelta(minutes=5))
    elif shape == "not-a-document":
        world.seed(secret, b"apiKey=not-json")
    calls = Calls(world)
    with pytest.raises(KeyUnavailableError) as raised:
        make_reader(secret).api_key()
    assert raised.value.code == code
    assert str(raised.value).startswith(f"no valid Momento key for {secret}: ")
    assert advice in str(raised.value)
    if code == "latest_version_not_enabled":  # either cause: the reader cannot tell which
        assert (
            "the latest version is disabled or destroyed, or the Cloud KMS key that encrypts it "
            "is disabled: check the version's state and the key" in str(raised.value)
        )
    assert calls.since() == {"AccessSecretVersion": 1}  # retrying cannot fix these


def test_without_a_key_a_transient_error_is_retried_then_reported(world, make_reader, clock):
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.inject_fault("AccessSecretVersion", grpc.StatusCode.UNAVAILABLE, times=3)
    calls = Calls(world)
    reader = make_reader(secret)
    with pytest.raises(KeyUnavailableError, match="The next read is in 4 s") as raised:
        reader.api_key()
    assert raised.value.code == "secret_manager_unavailable"
    assert clock.sleeps == [1, 2]
    with pytest.raises(KeyUnavailableError):
        reader.api_key()  # in the backoff: no access
    assert calls.since() == {"AccessSecretVersion": 3}
    clock.advance(4)
    assert reader.api_key()
    assert calls.since() == {"AccessSecretVersion": 4}


def test_invalidate_after_unauthenticated_re_reads_once(world, make_reader, clock):
    """Momento refuses the key; the application invalidates, and a burst of such errors costs
    one access; the re-read picks up the version the function stored meanwhile."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    reader = make_reader(secret)
    old = reader.api_key()
    assert world.call({"force": True}).only()["action"] == "refreshed"
    clock.advance(60)
    world.momento.inject_fault("ListCaches", grpc.StatusCode.UNAUTHENTICATED, times=1)
    calls = Calls(world)
    with cache_client(world, reader) as client:
        response = client.list_caches()
    assert isinstance(response, ListCaches.Error)
    assert response.error_code is MomentoErrorCode.AUTHENTICATION_ERROR
    invalidated = [reader.invalidate() for _ in range(1000)]
    assert invalidated.count(True) == 1
    new = reader.api_key()
    for _ in range(1000):
        reader.invalidate()
        reader.api_key()
    assert new != old
    assert new == world.document(secret)["apiKey"]
    assert calls.since() == {"AccessSecretVersion": 1}
    with cache_client(world, reader) as client:
        assert isinstance(client.list_caches(), ListCaches.Success)


def test_the_consumer_demo_runs_offline_and_shows_the_pickup(world: World):
    done = world.run_python("-m", "devtools.consumer_demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "app: list_caches ok with the key from version 1" in out
    assert "app: list_caches ok with the key from version 2" in out
    assert "app: authentication error: invalidated the key" in out
    assert "app: list_caches ok with the key from version 3" in out
    assert "no restart" in out
    assert "leak check: no key, token or payload" in out
