"""The orchestration over in-memory ports: the edge cases the emulators cannot produce."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from momento_key_common import redact
from momento_key_common.errors import (
    ConfigError,
    ConflictError,
    ErrorCode,
    MomentoAuthenticationError,
    SecretStoreError,
)
from momento_key_common.token import RefreshedKey
from rotation.rules.config import load_config
from rotation.service.lease import CLOCK_SKEW_ALLOWANCE, LEASE_ANNOTATION
from rotation.service.rotate import Rotator
from tests import keys
from tests.fakes import FakeRefresher, FakeStore, FakeVersion

SECRET = "projects/p/secrets/s"
NOW = datetime.now(UTC)
SOON = int((NOW + timedelta(hours=5)).timestamp())
LATER = int((NOW + timedelta(days=30)).timestamp())


def refreshed(**changes: object) -> RefreshedKey:
    fields: dict[str, object] = {
        "jwt": keys.jwt(exp=LATER),
        "refresh_token": "new-refresh-token-00000001",
        "endpoint": keys.ENDPOINT,
        "valid_until": LATER,
    }
    fields.update(changes)
    return RefreshedKey(**fields)  # type: ignore[arg-type]


def store_with_due_key() -> FakeStore:
    document = keys.document(apiKey=keys.v1_key(exp=SOON), validUntil=SOON)
    return FakeStore(SECRET, [FakeVersion(document, NOW - timedelta(days=29))])


def rotate(store: FakeStore, refresher: FakeRefresher, **env: str):
    config = load_config({"ROTATION_SECRETS": SECRET, **env})
    rotator = Rotator(config, store, lambda: refresher, clock=lambda: datetime.now(UTC))
    with redact.request_scope():
        return rotator.rotate(SECRET, force=False, dry_run=False).to_json()


def test_a_new_key_without_a_refresh_token_is_still_stored_and_reported() -> None:
    """Throwing the key away would lose it: the old refresh token is already spent. The key is
    safe now but won't stay so without a person: refreshed, at ERROR, so the alert fires."""
    store = store_with_due_key()
    result = rotate(store, FakeRefresher(refreshed(refresh_token="")))
    assert (result["action"], result["severity"], result["error"]) == ("refreshed", "ERROR", None)
    assert result["attention"]["code"] == "refresh_token_missing"
    assert result["version"] == f"{SECRET}/versions/2"
    assert "cannot be refreshed again" in result["attention"]["message"]
    assert (
        json.loads(store.versions[-1].data)["apiKey"]
        != json.loads(store.versions[0].data)["apiKey"]
    )


def test_a_stored_document_that_cannot_be_read_back_names_its_version() -> None:
    store = store_with_due_key()
    result = rotate(store, FakeRefresher(refreshed(jwt="not-a-jwt")))
    assert result["error"]["code"] == "stored_document_unreadable"
    assert f"{SECRET}/versions/2" in result["error"]["message"]
    assert len(store.versions) == 2


def test_an_error_that_echoes_the_new_payload_is_scrubbed() -> None:
    store = store_with_due_key()
    answer = refreshed()

    def refuse(data: bytes) -> None:
        raise SecretStoreError(f"rejected payload {data.decode()}", code=ErrorCode.INVALID_ARGUMENT)

    store.on_add = refuse
    result = rotate(store, FakeRefresher(answer))
    text = json.dumps(result)
    assert result["error"]["code"] == "refreshed_not_stored"
    assert answer.jwt not in text and answer.refresh_token not in text
    assert "[REDACTED]" in text


def test_short_lived_key_refreshed_moments_ago_is_not_refreshed_again() -> None:
    """A key whose lifetime is shorter than REFRESH_BEFORE is due again at once."""
    store = store_with_due_key()
    refresher = FakeRefresher(refreshed(valid_until=SOON + 3600, jwt=keys.jwt(exp=SOON + 3600)))
    first = rotate(store, refresher)
    second = rotate(store, refresher)
    assert (first["action"], second["action"]) == ("refreshed", "skipped")
    assert "a burst of runs refreshes once, even forced ones" in second["reason"]
    assert refresher.refreshes == 1


def test_a_lease_write_that_landed_before_its_retry_failed_is_still_ours() -> None:
    """UpdateSecret timed out but landed; the retry then failed on the etag it had changed."""
    store = store_with_due_key()
    store.on_replace = lambda fake: fake.annotations.get(LEASE_ANNOTATION) is None
    refresher = FakeRefresher(refreshed())
    result = rotate(store, refresher)
    assert result["action"] == "refreshed"
    assert refresher.refreshes == 1


def test_a_disable_that_lost_to_a_concurrent_sweep_is_not_a_failure() -> None:
    store = FakeStore(
        SECRET,
        [
            FakeVersion(keys.document(), NOW - timedelta(days=40)),
            FakeVersion(keys.document(), NOW - timedelta(days=20)),
        ],
    )
    original = store.disable

    def lose_the_race(version, *, deadline) -> None:
        original(version, deadline=deadline)
        raise ConflictError("changed since it was listed")

    store.disable = lose_the_race  # type: ignore[method-assign]
    result = rotate(store, FakeRefresher(refreshed()))
    assert (result["action"], result["error"]) == ("skipped", None)
    assert store.states() == ["DISABLED", "ENABLED"]


def test_lease_must_outlast_the_longest_hold() -> None:
    with pytest.raises(ConfigError, match="LEASE_DURATION must be longer than"):
        load_config({"ROTATION_SECRETS": SECRET, "LEASE_DURATION": "60s"})


def test_an_internal_error_is_logged_with_where_it_happened_but_not_what_it_said(capsys) -> None:
    """A bug must be diagnosable from the logs, and its message may carry anything."""
    store = store_with_due_key()

    def broken(secret: str) -> list:
        raise RuntimeError("text that might quote a payload: refresh-token-canary-0001")

    store.list_versions = broken  # type: ignore[method-assign]
    store.versions[0].data = keys.document()  # not due: the skip path sweeps
    result = rotate(store, FakeRefresher(refreshed()))

    assert result["error"]["code"] == "internal_error"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (internal,) = [line for line in lines if line.get("event") == "rotation.internal_error"]
    assert internal["error_type"] == "builtins.RuntimeError"
    assert any("test_rotate.py" in frame and "broken" in frame for frame in internal["frames"])
    assert "canary" not in json.dumps(lines)


def test_a_dry_run_reports_what_the_sweep_would_disable_and_disables_nothing() -> None:
    store = FakeStore(
        SECRET,
        [
            FakeVersion(keys.document(), NOW - timedelta(days=40)),
            FakeVersion(keys.document(), NOW - timedelta(days=20)),
        ],
    )
    config = load_config({"ROTATION_SECRETS": SECRET})
    rotator = Rotator(config, store, lambda: FakeRefresher(refreshed()), clock=lambda: NOW)
    with redact.request_scope():
        result = rotator.rotate(SECRET, force=False, dry_run=True).to_json()
    assert result["disabled_versions"] == [f"{SECRET}/versions/1"]
    assert "dry run: would disable 1" in result["reason"]
    assert store.states() == ["ENABLED", "ENABLED"]


def test_an_answer_identical_to_the_stored_key_fails_and_adds_no_version() -> None:
    """The same key again would be 'refreshed' every day until it died."""
    store = store_with_due_key()
    current = json.loads(store.versions[0].data)
    same = RefreshedKey(
        jwt=keys.jwt(exp=SOON),
        refresh_token=current["refreshToken"],
        endpoint=keys.ENDPOINT,
        valid_until=SOON,
    )
    result = rotate(store, FakeRefresher(same))
    assert (result["action"], result["error"]["code"]) == ("failed", "key_not_extended")
    assert "nothing was stored" in result["error"]["message"]
    assert result["version"] == f"{SECRET}/versions/1"
    assert len(store.versions) == 1
    assert '"released_at"' in store.annotations[LEASE_ANNOTATION], "the next run need not wait"


def test_an_answer_that_expires_no_later_but_spent_the_token_is_stored_once_and_fails() -> None:
    """Momento spent the old refresh token: the new one is the only way left to refresh."""
    store = store_with_due_key()
    earlier = refreshed(jwt=keys.jwt(exp=SOON - 60), valid_until=SOON - 60)
    result = rotate(store, FakeRefresher(earlier))
    assert (result["action"], result["error"]["code"]) == ("failed", "key_not_extended")
    assert result["version"] == f"{SECRET}/versions/2"
    assert "stored as" in result["error"]["message"]
    assert json.loads(store.versions[-1].data)["refreshToken"] == earlier.refresh_token


@pytest.mark.parametrize(
    ("expires_in", "action", "severity", "code"),
    [
        (timedelta(days=20), "skipped", "ERROR", None),
        (timedelta(hours=5), "failed", "ERROR", "refresh_token_missing"),
    ],
    ids=["not-due", "due"],
)
def test_a_key_without_a_refresh_token_keeps_that_context_on_later_runs(
    expires_in: timedelta, action: str, severity: str, code: str | None
) -> None:
    """Not 'invalid token document': it is a working key nobody can refresh."""
    exp = int((NOW + expires_in).timestamp())
    document = keys.document(apiKey=keys.v1_key(exp=exp), refreshToken=None, validUntil=exp)
    store = FakeStore(SECRET, [FakeVersion(document, NOW - timedelta(days=1))])
    refresher = FakeRefresher(refreshed())
    result = rotate(store, refresher)
    assert (result["action"], result["severity"]) == (action, severity)
    found = result["error"] or result["attention"]
    assert found["code"] == "refresh_token_missing"
    assert (result["error"] or {}).get("code") == code
    assert "create a new key in the Momento console" in found["message"]
    assert refresher.refreshes == 0


@pytest.mark.parametrize(
    ("key_expires_in", "action", "stored"),
    [(timedelta(days=20), "failed", 1), (timedelta(hours=5), "failed", 2)],
    ids=["key-not-due", "key-due"],
)
def test_a_secret_that_expires_within_refresh_before_fails_after_refreshing_a_due_key(
    key_expires_in: timedelta, action: str, stored: int
) -> None:
    exp = int((NOW + key_expires_in).timestamp())
    store = FakeStore(
        SECRET,
        [FakeVersion(keys.document(apiKey=keys.v1_key(exp=exp), validUntil=exp), NOW)],
        expire_time=NOW + timedelta(hours=1),
    )
    result = rotate(store, FakeRefresher(refreshed()))
    assert (result["action"], result["error"]["code"]) == (action, "secret_expiring")
    assert result["version"] == f"{SECRET}/versions/{stored}", "names the new version"
    assert "--remove-expiration" in result["error"]["message"]
    assert len(store.versions) == stored


def test_a_secret_that_expires_after_refresh_before_is_fine() -> None:
    store = FakeStore(
        SECRET,
        [FakeVersion(keys.document(), NOW)],
        expire_time=NOW + timedelta(days=30),
    )
    assert rotate(store, FakeRefresher(refreshed()))["action"] == "skipped"


def test_a_refused_refresh_token_after_another_runner_stored_a_newer_key_is_a_skip() -> None:
    """A runner this one could not see (a clock far off, another deployment) refreshed first."""
    store = store_with_due_key()

    class RefusingAfterAnotherRun(FakeRefresher):
        def refresh(self, key: object, refresh_token: str) -> RefreshedKey:
            store.versions.append(FakeVersion(keys.document(), NOW))
            raise MomentoAuthenticationError("could not refresh the key: refused")

    result = rotate(store, RefusingAfterAnotherRun(refreshed()))
    assert (result["action"], result["severity"], result["error"]) == ("skipped", "INFO", None)
    assert "stored by another run" in result["reason"]
    assert result["version"] == f"{SECRET}/versions/2"


def test_a_key_that_expires_within_the_hour_is_a_warning_even_when_skipped() -> None:
    exp = int((NOW + timedelta(minutes=30)).timestamp())
    store = FakeStore(
        SECRET, [FakeVersion(keys.document(apiKey=keys.v1_key(exp=exp), validUntil=exp), NOW)]
    )
    result = rotate(store, FakeRefresher(refreshed()), REFRESH_BEFORE="10m")
    assert (result["action"], result["severity"]) == ("skipped", "WARNING")
    assert result["attention"]["code"] == "key_expires_soon"


def test_a_sweep_cut_short_is_a_warning_that_the_next_run_continues() -> None:
    store = FakeStore(
        SECRET,
        [FakeVersion(keys.document(), NOW - timedelta(days=40 - n)) for n in range(5)],
    )
    config = load_config({"ROTATION_SECRETS": SECRET})
    rotator = Rotator(
        config,
        store,
        lambda: FakeRefresher(refreshed()),
        clock=lambda: datetime.now(UTC),
        sweep_budget=timedelta(0),
    )
    with redact.request_scope():
        result = rotator.rotate(SECRET, force=False, dry_run=False).to_json()
    assert (result["action"], result["severity"], result["error"]) == ("skipped", "WARNING", None)
    message = result["attention"]["message"]
    assert result["attention"]["code"] == "sweep_incomplete"
    assert "4 remain enabled" in message and "next run continues" in message
    assert "new key" not in message, "no new key was stored: don't say one was"


def test_an_unexpected_error_between_the_refresh_and_the_write_is_critical(capsys) -> None:
    """Momento has spent the token: a bug there must page like a failed write, not hide as an
    ordinary internal error."""
    store = store_with_due_key()
    broken = RefreshedKey(jwt=None, refresh_token="t" * 20, endpoint=keys.ENDPOINT, valid_until=1)  # type: ignore[arg-type]
    result = rotate(store, FakeRefresher(broken))
    assert (result["action"], result["severity"]) == ("failed", "CRITICAL")
    assert result["error"]["code"] == "refreshed_not_stored"
    assert "unexpected internal error" in result["error"]["message"]
    assert len(store.versions) == 1


def test_a_held_lease_says_when_it_can_really_be_taken_over() -> None:
    """Its expiry plus the clock-skew allowance, not its bare expiry."""
    store = store_with_due_key()
    # The rotator reads the real clock: a lease taken a minute before NOW (the module's import)
    # would have expired by now in a long test session.
    taken = datetime.now(UTC) - timedelta(minutes=1)
    store.annotations[LEASE_ANNOTATION] = json.dumps(
        {
            "holder": "another-run",
            "base_version": 1,
            "taken_at": int(taken.timestamp()),
            "expires_at": int((taken + timedelta(minutes=5)).timestamp()),
        }
    )
    result = rotate(store, FakeRefresher(refreshed()))
    takeover = taken.replace(microsecond=0) + timedelta(minutes=5) + CLOCK_SKEW_ALLOWANCE
    assert result["action"] == "skipped"
    assert f"the first run after {takeover.strftime('%Y-%m-%dT%H:%M:%SZ')}" in result["reason"]


def test_a_refresh_that_was_not_stored_explains_the_next_run_s_refusal() -> None:
    """The refresh token is spent; the next run is refused and must say why."""
    store = store_with_due_key()

    def refuse(data: bytes) -> None:
        raise SecretStoreError("denied", code=ErrorCode.PERMISSION_DENIED)

    store.on_add = refuse
    first = rotate(store, FakeRefresher(refreshed()))
    store.on_add = None

    class Refusing(FakeRefresher):
        def refresh(self, key: object, refresh_token: str) -> RefreshedKey:
            raise MomentoAuthenticationError("could not refresh the key: refused")

    second = rotate(store, Refusing(refreshed()))
    assert first["error"]["code"] == "refreshed_not_stored"
    assert second["error"]["code"] == "authentication"
    assert "did not store the new key" in second["error"]["message"]
