"""The rotation end to end: function app, real clients, real wire protocols, emulated services."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import PROJECT, World

DAY = timedelta(days=1)


def inner_jwt(v1_key: str) -> str:
    return str(json.loads(base64.b64decode(v1_key))["api_key"])


def test_key_close_to_expiry_is_refreshed_once_and_stored(world: World) -> None:
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=DAY)
    refreshes_before = world.momento.refreshes

    call = world.call()

    assert call.status == 200
    assert call.body["ok"] is True
    result = call.only()
    assert result["action"] == "refreshed"
    assert result["error"] is None
    assert result["secret"] == secret
    assert result["version"].endswith("/versions/2")
    assert world.momento.refreshes == refreshes_before + 1
    stored = world.document(secret)
    assert set(stored) == {*issued.console_json(), "endpoint"}
    assert stored["refreshToken"] != issued.refresh_token
    assert world.momento.is_valid(inner_jwt(stored["apiKey"]))
    new_expiry = datetime.fromtimestamp(stored["validUntil"], UTC)
    assert abs(new_expiry - (datetime.now(UTC) + 30 * DAY)) < timedelta(minutes=1)
    assert result["valid_until"] == new_expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def test_key_far_from_expiry_is_skipped_without_calling_momento(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=10 * DAY)
    attempts_before = world.momento.refresh_attempts

    call = world.call()

    assert call.status == 200
    result = call.only()
    assert result["action"] == "skipped"
    assert "more than 3d from now" in result["reason"]
    assert result["version"].endswith("/versions/1")
    assert world.momento.refresh_attempts == attempts_before
    assert world.states(secret) == {1: "ENABLED"}


def test_refresh_before_is_configurable(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=10 * DAY)
    world.configure(REFRESH_BEFORE="15d")
    assert world.call().only()["action"] == "refreshed"


def test_force_refreshes_a_key_far_from_expiry(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    result = world.call({"force": True}).only()
    assert result["action"] == "refreshed"
    assert result["reason"].startswith("forced")


def test_second_run_after_a_refresh_skips(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    assert world.call().only()["action"] == "refreshed"
    assert world.call().only()["action"] == "skipped"
    assert len(world.states(secret)) == 2


@pytest.mark.parametrize("how", ["body", "environment"])
def test_dry_run_changes_nothing_and_says_what_it_would_do(world: World, how: str) -> None:
    secret = world.new_secret()
    world.seed(secret, {"note": "old"}, age=40 * DAY)
    world.seed(secret, {"note": "old"}, age=30 * DAY)
    issued = world.issue(expires_in=DAY)
    world.seed(secret, issued.console_json(), age=20 * DAY)
    attempts_before = world.momento.refresh_attempts
    if how == "environment":
        world.configure(DRY_RUN="true")

    call = world.call({"dry_run": True} if how == "body" else None)

    assert call.status == 200
    assert call.body["dry_run"] is True
    result = call.only()
    assert result["action"] == "skipped"
    assert result["reason"].startswith("dry run: would refresh")
    assert [name.rsplit("/", 1)[1] for name in result["disabled_versions"]] == ["1", "2"]
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED", 3: "ENABLED"}
    assert world.momento.refresh_attempts == attempts_before


def test_rotation_disables_exactly_the_versions_past_retention(world: World) -> None:
    """v1 and v2 were superseded 20 and 10 days ago; v3 one day ago; v4 is refreshed to v5."""
    secret = world.new_secret()
    for age in (40, 20, 10):
        world.seed(secret, world.issue(expires_in=DAY).console_json(), age=age * DAY)
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=DAY)

    result = world.call().only()

    assert result["action"] == "refreshed"
    assert [name.rsplit("/", 1)[1] for name in result["disabled_versions"]] == ["1", "2"]
    assert world.states(secret) == {
        1: "DISABLED",
        2: "DISABLED",
        3: "ENABLED",
        4: "ENABLED",
        5: "ENABLED",
    }


def test_sweep_runs_when_nothing_needs_refreshing(world: World) -> None:
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=30 * DAY)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=8 * DAY)
    result = world.call().only()
    assert result["action"] == "skipped"
    assert world.states(secret) == {1: "DISABLED", 2: "ENABLED"}


def test_min_enabled_versions_and_retention_are_honoured(world: World) -> None:
    secret = world.new_secret()
    for age in (50, 40, 30, 20):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.configure(MIN_ENABLED_VERSIONS="3", RETENTION="1d")
    world.call()
    assert world.states(secret) == {1: "DISABLED", 2: "ENABLED", 3: "ENABLED", 4: "ENABLED"}


@pytest.mark.parametrize(
    ("latest", "state", "code"),
    [
        (b"{not json", "ENABLED", "invalid_token_document"),
        (
            json.dumps({"apiKey": "", "refreshToken": "x"}).encode(),
            "ENABLED",
            "invalid_token_document",
        ),
        (None, "DISABLED", "latest_version_not_enabled"),
        (None, "DESTROYED", "latest_version_not_enabled"),
    ],
    ids=["not-json", "empty-key", "disabled", "destroyed"],
)
def test_unhealthy_latest_fails_and_sweeps_nothing(
    world: World, latest: bytes | None, state: str, code: str
) -> None:
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=40 * DAY)
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=30 * DAY)
    world.seed(
        secret, latest or world.issue(expires_in=DAY).console_json(), age=20 * DAY, state=state
    )
    states_before = world.states(secret)

    call = world.call()

    assert call.status == 500
    result = call.only()
    assert result["action"] == "failed"
    assert result["error"]["code"] == code
    assert result["disabled_versions"] == []
    assert world.states(secret) == states_before


def test_v2_key_fails_with_a_clear_message(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY, form="v2")
    call = world.call()
    assert call.status == 500
    error = call.only()["error"]
    assert error["code"] == "v2_key_not_refreshable"
    assert "Momento cannot refresh v2 keys" in error["message"]
    assert world.states(secret) == {1: "ENABLED"}


@pytest.mark.reliability
def test_expired_key_fails_and_says_it_must_be_replaced_by_hand(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=-timedelta(minutes=5))
    error = world.call().only()["error"]
    assert error["code"] == "key_expired"
    assert "create a new key in the Momento console" in error["message"]
    assert world.states(secret) == {1: "ENABLED"}


def test_key_that_never_expires_is_skipped(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY, never_expires=True)
    result = world.call({"force": True}).only()
    assert (result["action"], result["reason"]) == ("skipped", "the key never expires")


def test_legacy_key_in_an_auth_token_field_is_refreshed_to_v1_in_the_same_field(
    world: World,
) -> None:
    secret = world.new_secret()
    issued = world.issue(expires_in=DAY, form="legacy")
    world.seed(
        secret,
        {
            "authToken": issued.api_key,
            "refreshToken": issued.refresh_token,
            "validUntil": str(issued.valid_until),
        },
    )
    assert world.call().only()["action"] == "refreshed"
    stored = world.document(secret)
    assert set(stored) == {"authToken", "refreshToken", "validUntil", "endpoint"}
    assert isinstance(stored["validUntil"], str)
    assert world.momento.is_valid(inner_jwt(stored["authToken"]))


def test_secrets_narrow_the_run(world: World) -> None:
    first, second = world.new_secret(), world.new_secret()
    world.seed_key(first, expires_in=DAY)
    world.seed_key(second, expires_in=DAY)
    call = world.call({"secrets": [second.rsplit("/", 1)[1]]})
    assert [result["secret"] for result in call.results] == [second]
    assert world.states(first) == {1: "ENABLED"}


def test_unconfigured_secret_is_forbidden_and_nothing_is_touched(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    calls_before = sum(world.secret_manager.calls.values())
    call = world.call({"secrets": [secret, f"projects/{PROJECT}/secrets/not-configured"]})
    assert call.status == 403
    assert call.body["error"]["code"] == "secret_not_configured"
    assert sum(world.secret_manager.calls.values()) == calls_before


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_not_allowed(world: World, method: str) -> None:
    world.new_secret()
    call = world.call(method=method)
    assert call.status == 405
    assert call.body["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("raw", "status", "needle"),
    [
        (b"{nope", 400, "not JSON"),
        (b'{"force": "yes"}', 400, "field force"),
        (b'{"extra": 1}', 400, "unknown field 'extra'"),
    ],
    ids=["not-json", "wrong-type", "unknown-field"],
)
def test_bad_bodies_get_400_naming_the_field(
    world: World, raw: bytes, status: int, needle: str
) -> None:
    world.new_secret()
    call = world.call(raw=raw)
    assert call.status == status
    assert needle in call.body["error"]["message"]


def test_one_failing_secret_does_not_stop_the_others(world: World) -> None:
    broken, healthy = world.new_secret(), world.new_secret()
    world.seed(broken, b"garbage")
    world.seed_key(healthy, expires_in=DAY)
    call = world.call()
    assert call.status == 500
    assert call.body["ok"] is False
    assert [r["action"] for r in call.results] == ["failed", "refreshed"]


def test_momento_refusal_leaves_the_secret_untouched(world: World) -> None:
    secret = world.new_secret()
    issued = world.issue(expires_in=DAY)
    world.seed(secret, {**issued.console_json(), "refreshToken": "wrong-refresh-token-xyz"})
    call = world.call()
    assert call.status == 500
    error = call.only()["error"]
    assert error["code"] == "authentication"
    assert "did not accept the key or refresh token" in error["message"]
    assert world.states(secret) == {1: "ENABLED"}


def test_logs_are_one_json_object_per_line_with_one_summary_per_secret(
    world: World, log_lines
) -> None:
    """Secrets are rotated concurrently, so their summaries come in the order they finish."""
    first, second = world.new_secret(), world.new_secret()
    world.seed_key(first, expires_in=DAY)
    world.seed_key(second, expires_in=20 * DAY)
    world.call()
    lines = log_lines()
    summaries = [line for line in lines if line.get("event") == "rotation.result"]
    assert sorted((s["secret"], s["action"], s["severity"]) for s in summaries) == sorted(
        [(first, "refreshed", "INFO"), (second, "skipped", "INFO")]
    )
    assert all({"severity", "message"} <= set(line) for line in lines)
