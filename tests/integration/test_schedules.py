"""Nothing kills a key quietly: the function knows when its next run comes, and acts on it.

Each setup here deployed cleanly and answered 200 every time before, and ended with a dead key.
Now a key that would die before the next run is refreshed now, and a schedule that can't keep
even a fresh key alive is an ERROR (2xx: a retry can't help). Through the emulators, on both
targets; the CloudEvent runs come from the Secret Manager emulator's own rotation schedule,
which publishes SECRET_ROTATE when next_rotation_time comes and then advances it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import PROJECT, World
from tests.integration.test_rotate_event import deliver

DAY = timedelta(days=1)
DAILY = "0 3 * * *"


def weekly_six_days_ahead(now: datetime) -> str:
    """A weekly cron whose next run is about six days from ``now``, whatever day it is."""
    yesterday = now - DAY
    cron_day = (yesterday.weekday() + 1) % 7  # cron counts Sunday as 0
    return f"{now.minute} {now.hour} * * {cron_day}"


def run_by_schedule(world: World, secret: str, *, period: timedelta) -> int:
    """Let the emulator's rotation schedule for ``secret`` come due, and deliver what it
    publishes to rotate_event as Eventarc would; the delivery's status."""
    world.secret_manager.set_rotation(
        secret,
        next_rotation_time=datetime.now(UTC) - timedelta(seconds=1),
        rotation_period=period,
        topics=[f"projects/{PROJECT}/topics/momento-key-rotation"],
    )
    statuses: list[int] = []

    def publish(topic: str, message: dict[str, Any]) -> None:
        # Pub/Sub's publish time: a moment before the function sees it.
        published = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        data = {
            "message": {**message, "messageId": uuid.uuid4().hex[:16], "publishTime": published},
            "subscription": f"projects/{PROJECT}/subscriptions/eventarc-rotation",
        }
        statuses.append(deliver(world, data).status)

    assert world.secret_manager.publish_due_rotations(publish) == 1
    (status,) = statuses
    return status


def seed_key(world: World, secret: str, *, expires_in: timedelta, lifetime: timedelta) -> None:
    """A key stored a while ago: a rotation published now must not count as already done."""
    issued = world.issue(expires_in=expires_in, lifetime=lifetime)
    world.seed(secret, issued.console_json(), age=min(lifetime - expires_in, DAY))


def results(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "rotation.result"]


def loud(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("severity") in ("WARNING", "ERROR", "CRITICAL")]


# --- the README's old example: --rotation-period 720h with a 30-day key ------------------------


def test_http_a_30_day_key_with_a_720h_rotation_is_refreshed_now_and_called_too_sparse(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    secret = world.new_secret()
    seed_key(world, secret, expires_in=29 * DAY + timedelta(hours=23), lifetime=30 * DAY)
    world.secret_manager.set_rotation(
        secret,
        next_rotation_time=datetime.now(UTC) + 30 * DAY - timedelta(minutes=10),
        rotation_period=30 * DAY,
        topics=[f"projects/{PROJECT}/topics/momento-key-rotation"],
    )

    call = world.call()

    result = call.only()
    assert (call.status, result["action"], result["severity"]) == (200, "refreshed", "ERROR")
    assert "before the next run could refresh it" in result["reason"]
    assert result["attention"]["code"] == "schedule_too_sparse"
    message = result["attention"]["message"]
    assert "keys live 30d" in message and "the secret's rotation schedule" in message
    (line,) = results(log_lines())
    assert (line["severity"], line["attention_code"]) == ("ERROR", "schedule_too_sparse")


def test_event_a_720h_rotation_of_a_30_day_key_is_an_error_though_it_refreshes(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    secret = world.new_secret()
    seed_key(world, secret, expires_in=DAY, lifetime=30 * DAY)

    status = run_by_schedule(world, secret, period=30 * DAY)

    assert status == 200, "acknowledged: a redelivery can't make the schedule denser"
    (line,) = results(log_lines())
    assert (line["action"], line["severity"]) == ("refreshed", "ERROR")
    assert line["attention_code"] == "schedule_too_sparse"
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


# --- a weekly job with REFRESH_BEFORE=3d and a key with 4 days left -----------------------------


def test_http_a_key_that_dies_before_the_weekly_run_is_refreshed_now(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    secret = world.new_secret()
    seed_key(world, secret, expires_in=4 * DAY, lifetime=30 * DAY)
    world.configure(ROTATION_SCHEDULE=weekly_six_days_ahead(datetime.now(UTC)))

    result = world.call().only()

    assert (result["action"], result["severity"]) == ("refreshed", "INFO")
    assert "before the next run could refresh it" in result["reason"]
    assert "REFRESH_BEFORE is 3d" in result["reason"]
    assert not loud(log_lines())


def test_event_a_weekly_job_and_30_day_keys_refresh_quietly(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    secret = world.new_secret()
    seed_key(world, secret, expires_in=4 * DAY, lifetime=30 * DAY)
    world.configure(ROTATION_SCHEDULE=weekly_six_days_ahead(datetime.now(UTC)))

    assert run_by_schedule(world, secret, period=7 * DAY) == 200

    (line,) = results(log_lines())
    assert (line["action"], line["severity"]) == ("refreshed", "INFO")


# --- a custom 12-hour key with the daily job -----------------------------------------------------


@pytest.mark.parametrize("target", ["http", "event"])
def test_a_key_that_lives_less_than_the_gap_between_runs_is_an_error_and_2xx(
    world: World, log_lines: Callable[[], list[dict[str, Any]]], target: str
) -> None:
    secret = world.new_secret()
    seed_key(world, secret, expires_in=timedelta(hours=6), lifetime=timedelta(hours=12))
    world.configure(ROTATION_SCHEDULE=DAILY)

    status = world.call().status if target == "http" else run_by_schedule(world, secret, period=DAY)

    assert status == 200
    (line,) = results(log_lines())
    assert (line["action"], line["severity"]) == ("refreshed", "ERROR")
    assert line["attention_code"] == "schedule_too_sparse"
    assert "keys live 12h" in line["message"]
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}, "the new key is stored"


# --- controls: a daily job and 30-day keys ------------------------------------------------------


@pytest.mark.parametrize("target", ["http", "event"])
def test_a_daily_job_and_30_day_keys_log_nothing_at_warning_or_above(
    world: World, log_lines: Callable[[], list[dict[str, Any]]], target: str
) -> None:
    secret = world.new_secret()
    seed_key(world, secret, expires_in=20 * DAY, lifetime=30 * DAY)
    world.configure(ROTATION_SCHEDULE=DAILY)

    status = world.call().status if target == "http" else run_by_schedule(world, secret, period=DAY)

    assert status == 200
    lines = log_lines()
    assert not loud(lines)
    (line,) = results(lines)
    assert line["next_run"] is not None and isinstance(line["seconds_left"], int)


def test_status_says_when_the_next_run_comes_and_whether_keys_outlive_it(world: World) -> None:
    secret = world.new_secret()
    seed_key(world, secret, expires_in=timedelta(hours=6), lifetime=timedelta(hours=12))

    done = world.run_python(
        "-m", "rotation", "status", secret, "--json", ROTATION_SECRETS="", ROTATION_SCHEDULE=DAILY
    )
    unknown = world.run_python("-m", "rotation", "status", secret, "--json", ROTATION_SECRETS="")

    import json  # noqa: PLC0415

    assert done.returncode == 1, "a schedule that can't keep the key alive needs a person"
    (status,) = json.loads(done.stdout)["secrets"]
    assert status["next_run"]["source"].startswith("ROTATION_SCHEDULE '0 3 * * *'")
    assert status["next_run"]["fresh_key_outlives_it"] is False
    assert status["attention"]["code"] == "schedule_too_sparse"
    (without,) = json.loads(unknown.stdout)["secrets"]
    assert without["next_run"]["at"] is None
    assert "unknown: set ROTATION_SCHEDULE" in without["next_run"]["source"]
