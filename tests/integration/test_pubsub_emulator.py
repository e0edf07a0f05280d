"""End to end through the Pub/Sub emulator that ships with gcloud: a SECRET_ROTATE message on a
topic, pushed to ``rotate_event`` under functions-framework, refreshes the secret once, even
when it is delivered twice.

Two push subscriptions on one topic deliver every message twice, at about the same time: the
duplicate delivery Pub/Sub's at-least-once contract allows, concurrently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from devtools.emulators.secret_manager import project_number
from devtools.processes import start_function, stop
from devtools.pubsub_emulator import PubSub, PubSubUnavailableError, pubsub_emulator
from tests.integration.conftest import PROJECT, World

pytestmark = pytest.mark.reliability
DAY = timedelta(days=1)
TOPIC = "momento-key-rotation"


@pytest.fixture(scope="module")
def pubsub() -> Iterator[PubSub]:
    try:
        with pubsub_emulator(PROJECT) as emulator:
            yield emulator
    except PubSubUnavailableError as error:
        pytest.skip(str(error))


def test_a_scheduled_rotation_arrives_twice_and_refreshes_once(
    world: World, pubsub: PubSub, tmp_path: Path
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    env = {**world.env, "ROTATION_SECRETS": ",".join(world.secrets)}
    log_path = tmp_path / "function.log"
    with log_path.open("w") as log:
        function, url = start_function(env, log=log, target="rotate_event", workers=1, threads=4)
        try:
            topic = f"{TOPIC}-{secret.rsplit('-', 1)[1]}"
            pubsub.create_topic(topic)
            for n in (1, 2):
                pubsub.push_to(topic, f"{topic}-push-{n}", url)
            pubsub.publish_rotate(
                topic,
                secret.replace(f"projects/{PROJECT}/", f"projects/{project_number(PROJECT)}/"),
            )
            outcomes = wait_for_outcomes(log_path, count=2)
        finally:
            stop(function)
    assert sorted(outcomes) == ["refreshed", "skipped"], log_path.read_text()
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def wait_for_outcomes(log_path: Path, *, count: int, timeout: float = 60) -> list[str]:
    """The action of each delivery, from the function's log: a result, or an event skip."""
    deadline = time.monotonic() + timeout
    outcomes: list[str] = []
    while time.monotonic() < deadline:
        outcomes = []
        for line in log_path.read_text().splitlines():
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry.get("event") == "rotation.result":
                outcomes.append(entry["action"])
            elif entry.get("event") == "rotation.event_skipped":
                outcomes.append("skipped")
        if len(outcomes) >= count:
            time.sleep(2)  # a third delivery would be a bug: give it the chance to show
            return outcomes
        time.sleep(0.2)
    pytest.fail(f"saw {outcomes} after {timeout:.0f}s; log:\n{log_path.read_text()}")
