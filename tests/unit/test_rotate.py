"""The orchestration over in-memory ports: the edge cases the emulators cannot produce."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from rotation import redact
from rotation.config import load_config
from rotation.errors import ConfigError, ConflictError, ErrorCode, SecretStoreError
from rotation.lease import LEASE_ANNOTATION
from rotation.rotate import Rotator
from rotation.token import RefreshedKey
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
    """Throwing the key away would lose it: the old refresh token is already spent."""
    store = store_with_due_key()
    result = rotate(store, FakeRefresher(refreshed(refresh_token="")))
    assert result["error"]["code"] == "refresh_token_missing"
    assert result["version"] == f"{SECRET}/versions/2"
    assert "cannot be refreshed again" in result["error"]["message"]
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
    refresher = FakeRefresher(refreshed(valid_until=SOON, jwt=keys.jwt(exp=SOON)))
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

    store.list_enabled = broken  # type: ignore[method-assign]
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
