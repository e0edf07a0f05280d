"""``rotate_event``: Secret Manager's SECRET_ROTATE notification, exactly as Eventarc delivers it.

Eventarc posts a binary-mode CloudEvent (``ce-*`` headers) of type
``google.cloud.pubsub.topic.v1.messagePublished`` whose data is the Pub/Sub message. A 2xx
acknowledges it; anything else makes Pub/Sub redeliver.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import functions_framework
import grpc
import pytest

from devtools.emulators.secret_manager import project_number
from tests.integration.conftest import PROJECT, ROOT, World

DAY = timedelta(days=1)
NUMBER = project_number(PROJECT)


@dataclass(frozen=True)
class Delivery:
    status: int
    text: str


def notification(
    secret: str, *, event_type: str = "SECRET_ROTATE", published: datetime | None = None
) -> dict[str, Any]:
    """The Pub/Sub message Secret Manager publishes, inside Eventarc's event data."""
    published = published or datetime.now(UTC)
    resource = {"name": secret, "rotation": {"rotationPeriod": "2592000s"}}
    return {
        "message": {
            "attributes": {
                "eventType": event_type,
                "secretId": secret,
                "dataFormat": "JSON_API_V1",
                "timestamp": published.isoformat(),
            },
            "data": base64.b64encode(json.dumps(resource).encode()).decode(),
            "messageId": str(uuid.uuid4().int)[:16],
            "publishTime": published.isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/{PROJECT}/subscriptions/eventarc-us-central1-rotation-sub-042",
    }


def deliver(world: World, data: dict[str, Any]) -> Delivery:
    """POST ``data`` to rotate_event as Eventarc does: binary mode, ce-* headers."""
    os.environ.update(world.env)
    os.environ["ROTATION_SECRETS"] = ",".join(world.secrets)
    app = functions_framework.create_app(target="rotate_event", source=str(ROOT / "main.py"))
    headers = {
        "ce-id": data["message"]["messageId"],
        "ce-source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/momento-key-rotation",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-time": data["message"]["publishTime"],
    }
    response = app.test_client().post(
        "/", data=json.dumps(data), headers=headers, content_type="application/json"
    )
    text = response.get_data(as_text=True)
    world.responses.append(text)
    return Delivery(response.status_code, text)


def by_number(secret: str) -> str:
    """The name as Secret Manager puts it in secretId: the project's number, not its id."""
    return secret.replace(f"projects/{PROJECT}/", f"projects/{NUMBER}/")


def test_secret_rotate_refreshes_a_key_that_is_not_due(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """The owner's schedule asked for it: refreshed whatever REFRESH_BEFORE says."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)

    delivery = deliver(world, notification(by_number(secret)))

    assert delivery.status == 200
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}
    (result,) = [line for line in log_lines() if line.get("event") == "rotation.result"]
    assert (result["secret"], result["action"]) == (secret, "refreshed")


def test_a_redelivered_rotation_does_nothing(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    event = notification(by_number(secret))

    first, second = deliver(world, event), deliver(world, event)

    assert (first.status, second.status) == (200, 200)
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}
    skipped = [line for line in log_lines() if line.get("event") == "rotation.event_skipped"]
    assert len(skipped) == 1
    assert "already rotated: version 2 was created at" in skipped[0]["message"]


@pytest.mark.parametrize("event_type", ["SECRET_VERSION_ADD", "SECRET_UPDATE", "TOPIC_CONFIGURED"])
def test_other_event_types_are_acknowledged_and_ignored(world: World, event_type: str) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    calls_before = sum(world.secret_manager.calls.values())

    delivery = deliver(world, notification(by_number(secret), event_type=event_type))

    assert delivery.status == 200
    assert sum(world.secret_manager.calls.values()) == calls_before
    assert world.states(secret) == {1: "ENABLED"}


def test_an_unmanaged_secret_is_acknowledged_with_an_error_line(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    managed, other = world.new_secret(), f"projects/{NUMBER}/secrets/someone-elses-key"
    world.seed_key(managed, expires_in=20 * DAY)

    delivery = deliver(world, notification(other))

    assert delivery.status == 200  # redelivering cannot fix it
    (failed,) = [line for line in log_lines() if line.get("event") == "rotation.result"]
    assert (failed["severity"], failed["action"]) == ("ERROR", "failed")
    assert failed["error_code"] == "secret_not_managed"
    assert "add it to ROTATION_SECRETS" in failed["message"]
    assert world.states(managed) == {1: "ENABLED"}


def test_a_malformed_event_is_acknowledged_with_an_error_line(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    world.seed_key(world.new_secret(), expires_in=DAY)
    event = notification("not-a-secret-name")

    delivery = deliver(world, event)

    assert delivery.status == 200
    (failed,) = [line for line in log_lines() if line.get("event") == "rotation.result"]
    assert failed["error_code"] == "invalid_event"


def test_a_transient_failure_is_redelivered(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.inject_fault("AccessSecretVersion", grpc.StatusCode.UNAVAILABLE, times=-1)

    delivery = deliver(world, notification(by_number(secret)))

    assert delivery.status == 500  # Pub/Sub redelivers
    world.secret_manager.clear_faults()
    assert deliver(world, notification(by_number(secret))).status == 200
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def test_a_permanent_failure_is_acknowledged(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """An expired key can't be refreshed however often the event comes back."""
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=-DAY).console_json())

    delivery = deliver(world, notification(by_number(secret)))

    assert delivery.status == 200
    (failed,) = [line for line in log_lines() if line.get("event") == "rotation.result"]
    assert failed["error_code"] == "key_expired"


def test_a_lease_held_by_another_run_is_redelivered(world: World) -> None:
    """That run may still fail: acknowledging now could lose the scheduled rotation."""
    now = int(datetime.now(UTC).timestamp())
    held = {"holder": "another-run", "expires_at": now + 300, "base_version": 1, "taken_at": now}
    secret = world.new_secret(annotations={"momento-key-rotation.lease": json.dumps(held)})
    world.seed_key(secret, expires_in=20 * DAY)

    delivery = deliver(world, notification(by_number(secret)))

    assert delivery.status == 500
    assert world.states(secret) == {1: "ENABLED"}


def test_a_sweep_that_stops_after_the_new_key_is_stored_is_not_redelivered(world: World) -> None:
    secret = world.new_secret()
    for age in (30, 20):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.secret_manager.inject_fault("DisableSecretVersion", grpc.StatusCode.UNAVAILABLE, times=-1)

    delivery = deliver(world, notification(by_number(secret)))

    assert delivery.status == 200  # the rotation happened; the next run finishes the sweep
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED", 3: "ENABLED"}
