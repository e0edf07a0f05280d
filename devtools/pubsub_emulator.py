"""The Pub/Sub emulator that ships with gcloud, started and driven over its REST API.

Used by the demo, ``./dev.sh serve`` and the end-to-end test: a topic, a push subscription to
the local ``rotate_event`` function, and a published ``SECRET_ROTATE`` message shaped as Secret
Manager publishes it. The emulator is Google's own (Java); nothing here fakes Pub/Sub.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from devtools.processes import free_port, wait_for_port


class PubSubUnavailableError(RuntimeError):
    """gcloud or its Pub/Sub emulator (or Java) is missing here."""


class PubSub:
    """One project's REST surface on the emulator (the same API Google serves)."""

    def __init__(self, address: str, project: str) -> None:
        self.address = address
        self.project = project
        self._base = f"http://{address}/v1/projects/{project}"

    def create_topic(self, topic: str) -> None:
        self._call("PUT", f"topics/{topic}", {})

    def push_to(self, topic: str, subscription: str, endpoint: str) -> None:
        self._call(
            "PUT",
            f"subscriptions/{subscription}",
            {
                "topic": f"projects/{self.project}/topics/{topic}",
                "pushConfig": {"pushEndpoint": endpoint},
                "ackDeadlineSeconds": 60,
            },
        )

    def publish_rotate(self, topic: str, secret: str) -> None:
        """What Secret Manager publishes when ``secret``'s rotation schedule comes due."""
        resource = json.dumps({"name": secret}).encode()
        message = {
            "data": base64.b64encode(resource).decode(),
            "attributes": {
                "eventType": "SECRET_ROTATE",
                "secretId": secret,
                "dataFormat": "JSON_API_V1",
                "timestamp": datetime.now(UTC).isoformat(),
            },
        }
        self._call("POST", f"topics/{topic}:publish", {"messages": [message]})

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (a local http emulator)
            f"{self._base}/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return dict(json.load(response))


@contextlib.contextmanager
def pubsub_emulator(project: str, *, port: int = 0, timeout: float = 60) -> Iterator[PubSub]:
    """Run ``gcloud beta emulators pubsub start`` until the block ends."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise PubSubUnavailableError("gcloud is not on PATH; its Pub/Sub emulator is needed")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="pubsub-emulator-") as config:
        process = subprocess.Popen(
            [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}",
             f"--project={project}"],
            env={**os.environ, "CLOUDSDK_CONFIG": config, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the Java server is a grandchild: stop the whole group
        )  # fmt: skip
        try:
            _wait_for(process, port, timeout)
            yield PubSub(f"127.0.0.1:{port}", project)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _wait_for(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    if wait_for_port(process, port, timeout=timeout):
        return
    if process.poll() is not None:
        raise PubSubUnavailableError(
            "the Pub/Sub emulator did not start; install it with 'gcloud components install "
            "pubsub-emulator' (it needs Java 11 or newer)"
        )
    raise PubSubUnavailableError(f"the Pub/Sub emulator did not listen within {timeout:.0f}s")
