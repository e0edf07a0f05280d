"""Faults injected through the emulators: retried where safe, loud where not, nothing lost.

Every scenario here is also counted by the reliability report (``-m reliability``); the world
fixture checks on teardown that no secret value leaked and no refreshed key vanished silently.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from devtools.processes import kill, start_function, stop
from momento_key_common.errors import ErrorCode
from rotation.service.lease import CLOCK_SKEW_ALLOWANCE, LEASE_ANNOTATION
from tests.integration.conftest import World

pytestmark = pytest.mark.reliability

DAY = timedelta(days=1)
TRANSIENT = [
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
]
SECRET_MANAGER_CALLS = [
    "AccessSecretVersion",
    "ListSecretVersions",
    "AddSecretVersion",
    "DisableSecretVersion",
]


def seed_due_key_with_an_expired_version(world: World) -> str:
    """v1 was superseded 20 days ago (sweepable); v2 expires in a day (refreshable)."""
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=30 * DAY)
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=20 * DAY)
    return secret


@pytest.mark.parametrize("code", TRANSIENT, ids=lambda code: code.name)
@pytest.mark.parametrize("rpc", SECRET_MANAGER_CALLS)
def test_transient_secret_manager_errors_are_retried(
    world: World, rpc: str, code: grpc.StatusCode
) -> None:
    secret = seed_due_key_with_an_expired_version(world)
    world.secret_manager.inject_fault(rpc, code, times=2)

    call = world.call()

    assert call.status == 200, call.body
    assert call.only()["action"] == "refreshed"
    assert world.states(secret) == {1: "DISABLED", 2: "ENABLED", 3: "ENABLED"}


@pytest.mark.parametrize(
    ("rpc", "code", "expected_states"),
    [
        ("AccessSecretVersion", "secret_manager_unavailable", {1: "ENABLED", 2: "ENABLED"}),
        ("AddSecretVersion", "refreshed_not_stored", {1: "ENABLED", 2: "ENABLED"}),
    ],
)
def test_persistent_secret_manager_errors_fail_clearly(
    world: World, rpc: str, code: str, expected_states: dict[int, str]
) -> None:
    secret = seed_due_key_with_an_expired_version(world)
    world.secret_manager.inject_fault(rpc, grpc.StatusCode.UNAVAILABLE, times=-1)

    call = world.call()

    assert call.status == 500
    error = call.only()["error"]
    assert error["code"] == code
    assert "run again later" in error["message"] or "Momento console" in error["message"]
    assert world.states(secret) == expected_states


@pytest.mark.parametrize("rpc", ["ListSecretVersions", "DisableSecretVersion"])
def test_a_sweep_cut_short_by_a_persistent_transient_error_is_a_warning(
    world: World, rpc: str
) -> None:
    """The sweep is housekeeping: the new key is stored, and the next run continues."""
    secret = seed_due_key_with_an_expired_version(world)
    world.secret_manager.inject_fault(rpc, grpc.StatusCode.UNAVAILABLE, times=-1)

    call = world.call()

    result = call.only()
    assert (call.status, result["action"], result["severity"]) == (200, "refreshed", "WARNING")
    assert result["attention"]["code"] == "sweep_incomplete"
    assert "run again later" in result["attention"]["message"]
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED", 3: "ENABLED"}


def test_add_that_keeps_failing_says_the_key_was_refreshed_but_not_stored(
    world: World, log_lines
) -> None:
    secret = seed_due_key_with_an_expired_version(world)
    world.secret_manager.inject_fault("AddSecretVersion", grpc.StatusCode.UNAVAILABLE, times=-1)

    result = world.call().only()

    message = result["error"]["message"]
    assert "Momento refreshed the key, but Secret Manager did not store it" in message
    assert "create a new key in the Momento console" in message
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}, "old versions stay enabled"
    critical = [line for line in log_lines() if line["severity"] == "CRITICAL"]
    assert [line["secret"] for line in critical] == [secret]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, "unavailable"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "timeout"),
        (grpc.StatusCode.UNAUTHENTICATED, "authentication"),
        (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
        (grpc.StatusCode.INTERNAL, "momento_internal"),
    ],
    ids=["unavailable", "timeout", "unauthenticated", "invalid-argument", "internal"],
)
def test_momento_errors_leave_the_secret_untouched(
    world: World, code: grpc.StatusCode, expected: str
) -> None:
    secret = seed_due_key_with_an_expired_version(world)
    world.momento.inject_fault("RefreshApiToken", code)
    call = world.call()
    assert call.status == 500
    assert call.only()["error"]["code"] == expected
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}, "untouched, not even swept"
    if code is grpc.StatusCode.INTERNAL:
        assert ErrorCode(expected).transient, "INTERNAL is transient everywhere"


def test_spent_refresh_token_is_refused_and_says_which(world: World) -> None:
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=DAY)
    world.spend(issued)
    error = world.call().only()["error"]
    assert error["code"] == "authentication"
    assert "refresh token may already have been used" in error["message"]
    assert world.states(secret) == {1: "ENABLED"}


def test_timed_out_refresh_that_completed_is_explained_on_the_next_run(world: World) -> None:
    """Momento answers too late: it refreshed, the token is spent, and nobody heard back."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    refreshes = world.momento.refreshes
    world.momento.inject_fault("RefreshApiToken", grpc.StatusCode.OK, delay=3.0)

    first = world.call().only()
    wait_for(lambda: world.momento.refreshes == refreshes + 1)
    second = world.call().only()

    assert first["error"]["code"] == "timeout"
    assert "may have completed the refresh" in first["error"]["message"]
    assert second["error"]["code"] == "authentication"
    assert "got no answer from Momento in time" in second["error"]["message"]
    assert world.states(secret) == {1: "ENABLED"}


def age_lease(world: World, secret: str, *, by: timedelta) -> None:
    """Move the lease's times back by ``by``: what waiting that long would do."""
    annotations = world.secret_manager.annotations(secret)
    held = json.loads(annotations[LEASE_ANNOTATION])
    for field in ("taken_at", "expires_at"):
        held[field] -= int(by.total_seconds())
    world.secret_manager.set_annotations(
        secret, {**annotations, LEASE_ANNOTATION: json.dumps(held)}
    )


def test_process_killed_between_refresh_and_add(world: World, tmp_path: Path) -> None:
    """SIGKILL while the add is in flight: the next run names the abandoned refresh.

    State after the kill: Momento minted a new key and spent the stored refresh token; Secret
    Manager still has only the old version, which keeps working until its own expiry; the
    secret carries the dead run's lease until it expires (LEASE_DURATION).
    """
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    # The shortest lease the configuration allows: 2 x STORE_DEADLINE + MOMENTO_TIMEOUT < 4s.
    world.configure(
        LEASE_DURATION="4s", STORE_DEADLINE="1s", MOMENTO_TIMEOUT="1s", ROTATION_SECRETS=secret
    )
    world.secret_manager.inject_fault("AddSecretVersion", grpc.StatusCode.OK, delay=30.0)
    refreshes = world.momento.refreshes
    with (tmp_path / "function.log").open("w") as log:
        process, url = start_function(world.env, log=log)
    try:
        request = urllib.request.Request(  # noqa: S310 (loopback URL of our own server)
            url, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
        )
        with pytest.raises(OSError), ThreadPoolExecutor(1) as pool:  # the connection dies
            pending = pool.submit(urllib.request.urlopen, request, timeout=60)
            wait_for(lambda: world.momento.refreshes == refreshes + 1)
            kill(process)
            pending.result()
    finally:
        stop(process)
        world.secret_manager.clear_faults()
        print((tmp_path / "function.log").read_text(), end="")
    age_lease(world, secret, by=timedelta(seconds=5) + CLOCK_SKEW_ALLOWANCE)  # time passes

    error = world.call().only()["error"]

    assert error["code"] == "authentication"
    assert "never stored a result" in error["message"]
    assert "probably killed between the refresh and the write" in error["message"]
    assert world.states(secret) == {1: "ENABLED"}


def test_a_failing_disable_stops_that_sweep_and_other_secrets_go_on(world: World) -> None:
    """The sweep stops at its first persistent failure; the next run finishes it. Secrets are
    swept concurrently, so the one fault goes to whichever secret's disable comes first."""
    secrets = [world.new_secret(), world.new_secret()]
    for secret in secrets:
        for age in (40, 30, 20):
            world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.secret_manager.inject_fault("DisableSecretVersion", grpc.StatusCode.PERMISSION_DENIED)

    call = world.call()

    assert call.status == 500
    (failed,) = [result for result in call.results if result["error"]]
    (succeeded,) = [result for result in call.results if not result["error"]]
    assert failed["error"]["code"] == "permission_denied"
    assert "stopped after disabling 0 of 2 versions" in failed["error"]["message"]
    assert "the key itself is unaffected" in failed["error"]["message"]
    assert world.states(failed["secret"]) == {1: "ENABLED", 2: "ENABLED", 3: "ENABLED"}
    assert succeeded["action"] == "skipped"
    assert world.states(succeeded["secret"]) == {1: "DISABLED", 2: "DISABLED", 3: "ENABLED"}

    assert world.call().status == 200
    assert world.states(failed["secret"]) == {1: "DISABLED", 2: "DISABLED", 3: "ENABLED"}


def test_a_sick_secret_does_not_starve_a_due_one(world: World) -> None:
    """Disables that keep failing cost one sweep budget, not a retry deadline per version.

    Before the budget, each of the sick secret's versions took a full 60 s retry deadline, so a
    due secret after it waited minutes (past a Scheduler attempt deadline). Now the run ends in
    about SWEEP_BUDGET (10 s); the bound below leaves room for a slow machine.
    """
    sick, due = world.new_secret(), world.new_secret()
    for age in (60, 50, 40, 30, 20):
        world.seed(sick, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.seed_key(due, expires_in=DAY)
    world.secret_manager.inject_fault("DisableSecretVersion", grpc.StatusCode.UNAVAILABLE, times=-1)

    started = time.monotonic()
    call = world.call()
    elapsed = time.monotonic() - started

    stopped, refreshed = call.results
    assert (call.status, stopped["action"], stopped["severity"]) == (200, "skipped", "WARNING")
    assert stopped["attention"]["code"] == "sweep_incomplete"
    assert "disabled 0 of 4 superseded versions" in stopped["attention"]["message"]
    assert refreshed["action"] == "refreshed"
    assert world.states(due) == {1: "ENABLED", 2: "ENABLED"}
    assert elapsed < 40, f"the due secret waited {elapsed:.0f}s behind the sick one"


@pytest.mark.parametrize(
    ("fault", "fine_grained", "outcome"),
    [
        (None, True, "swept"),
        (grpc.StatusCode.UNAUTHENTICATED, False, "rejected"),
        (grpc.StatusCode.UNAVAILABLE, False, "postponed"),
    ],
    ids=["permission-denied-authenticates", "unauthenticated-rejects", "unavailable-postpones"],
)
def test_new_key_is_verified_before_anything_is_swept(
    world: World, fault: grpc.StatusCode | None, fine_grained: bool, outcome: str
) -> None:
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=30 * DAY)
    world.seed(
        secret, world.issue(expires_in=DAY, fine_grained=fine_grained).console_json(), age=20 * DAY
    )
    if fault is not None:
        world.momento.inject_fault("ListCaches", fault)

    call = world.call()
    result = call.only()

    if outcome == "swept":
        assert (call.status, result["action"]) == (200, "refreshed")
        assert world.states(secret) == {1: "DISABLED", 2: "ENABLED", 3: "ENABLED"}
    elif outcome == "rejected":
        assert call.status == 500
        assert result["error"]["code"] == "new_key_rejected"
        assert world.states(secret) == {1: "ENABLED", 2: "ENABLED", 3: "ENABLED"}
    else:
        assert (call.status, result["action"]) == (200, "refreshed")
        assert "sweep is postponed to the next run" in result["reason"]
        assert world.states(secret) == {1: "ENABLED", 2: "ENABLED", 3: "ENABLED"}


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_after_a_key_that_was_not_stored_the_next_refusal_says_why(world: World) -> None:
    """refreshed_not_stored spent the refresh token; the Scheduler's retry is refused by
    Momento and must say that it is the earlier refresh that spent it."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    world.secret_manager.inject_fault(
        "AddSecretVersion", grpc.StatusCode.PERMISSION_DENIED, times=-1
    )
    first = world.call().only()
    world.secret_manager.clear_faults()

    second = world.call().only()

    assert first["error"]["code"] == "refreshed_not_stored"
    assert second["error"]["code"] == "authentication"
    assert "did not store the new key (refreshed_not_stored)" in second["error"]["message"]
    assert world.states(secret) == {1: "ENABLED"}
