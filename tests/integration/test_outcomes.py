"""The contract of outcomes, row by row, on every face: HTTP, the CloudEvent target and the CLI.

Each row of the README's table ("What each outcome means") is set up for real against the
emulators, then run through each face. What the operator sees must agree everywhere: the
action, the severity of the ``rotation.result`` line (ERROR and up is what the failure alert
counts; CRITICAL pages on its own), the HTTP status, whether a Pub/Sub delivery is acknowledged
(2xx) or redelivered, and the CLI's exit code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from tests.integration.conftest import World
from tests.integration.test_rotate_event import by_number, deliver, notification

DAY = timedelta(days=1)
ACK, REDELIVER = "ack", "redeliver"


@dataclass(frozen=True)
class Row:
    """One outcome: how to set it up, and what each face must say."""

    setup: Callable[[World, str], None]
    action: str
    severity: str
    http: int
    event: str
    exit: int
    code: str | None = None  # the error or attention code, when there is one


def due(world: World, secret: str) -> None:
    world.seed_key(secret, expires_in=DAY)


def not_due(world: World, secret: str) -> None:
    world.seed_key(secret, expires_in=20 * DAY)


def backlog(world: World, secret: str) -> None:
    """Three versions superseded long ago, and a write budget of 2 a minute: the sweep gets
    at most one disable in, then its time budget runs out waiting."""
    for age in (40, 39, 38):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=30 * DAY)
    world.configure(SECRET_MANAGER_WRITES_PER_MINUTE="2")


def no_refresh_token_in_answer(world: World, secret: str) -> None:
    due(world, secret)
    world.momento.misanswer_refreshes("no_refresh_token")


def same_key_in_answer(world: World, secret: str) -> None:
    due(world, secret)
    world.momento.misanswer_refreshes("same_key")


def secret_manager_internal(world: World, secret: str) -> None:
    due(world, secret)
    world.secret_manager.inject_fault("AccessSecretVersion", grpc.StatusCode.INTERNAL, times=-1)


def add_refused(world: World, secret: str) -> None:
    due(world, secret)
    world.secret_manager.inject_fault(
        "AddSecretVersion", grpc.StatusCode.PERMISSION_DENIED, times=-1
    )


ROWS = {
    "the key was extended": Row(due, "refreshed", "INFO", 200, ACK, 0),
    "not due": Row(not_due, "skipped", "INFO", 200, ACK, 0),
    "housekeeping cut short": Row(
        backlog, "skipped", "WARNING", 200, ACK, 0, code="sweep_incomplete"
    ),
    "safe now, not without a person": Row(
        no_refresh_token_in_answer, "refreshed", "ERROR", 200, ACK, 0, "refresh_token_missing"
    ),
    "not safe, a person must act": Row(
        same_key_in_answer, "failed", "ERROR", 500, ACK, 1, "key_not_extended"
    ),
    "transient": Row(
        secret_manager_internal, "failed", "ERROR", 500, REDELIVER, 1, "secret_manager_internal"
    ),
    "refreshed but not stored": Row(
        add_refused, "failed", "CRITICAL", 500, ACK, 1, "refreshed_not_stored"
    ),
}


def result_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "rotation.result"]


def code_of(result: dict[str, Any]) -> str | None:
    found = result.get("error_code") or result.get("attention_code")
    return str(found) if found else None


@pytest.mark.parametrize("name", ROWS)
def test_http(world: World, log_lines: Callable[[], list[dict[str, Any]]], name: str) -> None:
    row = ROWS[name]
    secret = world.new_secret()
    row.setup(world, secret)

    call = world.call()

    result = call.only()
    assert (call.status, result["action"], result["severity"]) == (
        row.http,
        row.action,
        row.severity,
    )
    assert ((result["error"] or result["attention"] or {}).get("code")) == row.code
    (line,) = result_lines(log_lines())
    assert (line["severity"], code_of(line)) == (row.severity, row.code)


@pytest.mark.parametrize("name", ROWS)
def test_cloud_event(
    world: World, log_lines: Callable[[], list[dict[str, Any]]], name: str
) -> None:
    """A SECRET_ROTATE forces the rotation, so "not due" is its own skip: the rotation it asked
    for already happened, and the housekeeping row refreshes before its sweep is cut short."""
    row = ROWS[name]
    secret = world.new_secret()
    row.setup(world, secret)
    published = datetime.now(UTC) - (timedelta(hours=1) if name == "not due" else timedelta(0))
    if name == "not due":
        world.seed_key(secret, expires_in=20 * DAY)  # a version newer than the request

    delivery = deliver(world, notification(by_number(secret), published=published))

    assert delivery.status == (200 if row.event == ACK else 500)
    lines = log_lines()
    if name == "not due":
        assert any(line.get("event") == "rotation.event_skipped" for line in lines)
        assert not result_lines(lines)
        return
    (line,) = result_lines(lines)
    action = "refreshed" if name == "housekeeping cut short" else row.action
    assert (line["action"], line["severity"], code_of(line)) == (action, row.severity, row.code)
    if row.code == "refreshed_not_stored":
        world.dropped_on_purpose += 1  # reported loudly above: the CRITICAL line
    if row.event == REDELIVER:
        assert any(line.get("event") == "rotation.event_redelivered" for line in lines)


@pytest.mark.parametrize("name", ROWS)
def test_cli(world: World, name: str) -> None:
    row = ROWS[name]
    secret = world.new_secret()
    row.setup(world, secret)

    done = world.run_python("-m", "rotation", "--secrets", secret)
    world.responses.append(done.stdout)

    assert done.returncode == row.exit, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert (result["action"], result["severity"]) == (row.action, row.severity)
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (line,) = result_lines(lines)
    assert (line["severity"], code_of(line)) == (row.severity, row.code)
