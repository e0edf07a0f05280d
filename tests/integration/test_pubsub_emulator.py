"""End to end through the Pub/Sub emulator that ships with gcloud: a SECRET_ROTATE message on a
topic, pushed to ``rotate_event`` under functions-framework, refreshes the secret once, even
when it is delivered twice.

Two push subscriptions on one topic deliver every message twice, at about the same time: the
duplicate delivery Pub/Sub's at-least-once contract allows, concurrently.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.emulators.secret_manager import project_number
from devtools.processes import free_port, start_function, stop
from tests.integration.conftest import PROJECT, World

pytestmark = pytest.mark.reliability
DAY = timedelta(days=1)
TOPIC = "momento-key-rotation"


class PubSubEmulator:
    """The emulator's REST surface (the same API Google serves), through urllib."""

    def __init__(self, address: str) -> None:
        self.base = f"http://{address}/v1/projects/{PROJECT}"

    def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (a local http emulator)
            f"{self.base}/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return dict(json.load(response))


@pytest.fixture(scope="module")
def pubsub() -> Iterator[PubSubEmulator]:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        pytest.skip("gcloud is not on PATH: the Pub/Sub emulator test needs its pubsub-emulator")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pubsub-emulator-") as config:
        process = subprocess.Popen(
            [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}",
             f"--project={PROJECT}"],
            env={**os.environ, "CLOUDSDK_CONFIG": config, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the Java emulator is a grandchild: stop the whole group
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    pytest.skip("the Pub/Sub emulator did not start (is Java installed?)")
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 0.2),
                ):
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the Pub/Sub emulator did not listen within 60 s")
            yield PubSubEmulator(f"127.0.0.1:{port}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            process.wait(timeout=30)


def test_a_scheduled_rotation_arrives_twice_and_refreshes_once(
    world: World, pubsub: PubSubEmulator, tmp_path: Path
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    env = {**world.env, "ROTATION_SECRETS": ",".join(world.secrets)}
    log_path = tmp_path / "function.log"
    with log_path.open("w") as log:
        function, url = start_function(env, log=log, target="rotate_event", workers=1, threads=4)
        try:
            topic = f"{TOPIC}-{secret.rsplit('-', 1)[1]}"
            pubsub.call("PUT", f"topics/{topic}", {})
            for n in (1, 2):
                pubsub.call(
                    "PUT",
                    f"subscriptions/{topic}-push-{n}",
                    {
                        "topic": f"projects/{PROJECT}/topics/{topic}",
                        "pushConfig": {"pushEndpoint": url},
                        "ackDeadlineSeconds": 60,
                    },
                )
            named = secret.replace(f"projects/{PROJECT}/", f"projects/{project_number(PROJECT)}/")
            resource = json.dumps({"name": named}).encode()
            pubsub.call(
                "POST",
                f"topics/{topic}:publish",
                {
                    "messages": [
                        {
                            "data": base64.b64encode(resource).decode(),
                            "attributes": {
                                "eventType": "SECRET_ROTATE",
                                "secretId": named,
                                "dataFormat": "JSON_API_V1",
                                "timestamp": datetime.now(UTC).isoformat(),
                            },
                        }
                    ]
                },
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
