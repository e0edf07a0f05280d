"""Everything the function talks to, on this machine: both emulators, a seeded secret, the function.

Shared by ``./dev.sh demo`` (which drives one rotation and stops) and ``./dev.sh serve`` (which
keeps it all running for the user's own requests). All are real processes speaking the real
protocols: the Secret Manager and Momento emulators over gRPC, the function under
functions-framework as Cloud Functions runs it.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
from google.cloud import secretmanager
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from devtools.processes import start_emulator, start_function, stopping

PROJECT = "demo-project"
SECRET_ID = "momento-api-key"
SECRET = f"projects/{PROJECT}/secrets/{SECRET_ID}"


@dataclass(frozen=True)
class Stack:
    url: str  # the function's base URL (HTTP target rotate)
    event_url: str | None  # the CloudEvent target rotate_event's, when started
    env: Mapping[str, str]  # the function's environment: what the CLI needs to reach the same
    client: Any  # a Secret Manager client talking to the emulator


@dataclass(frozen=True)
class Ports:
    """0 picks a free port; serve uses fixed ones so that its printed commands stay the same."""

    function: int = 0
    secret_manager: int = 0
    momento: int = 0
    event_function: int = 0


@contextlib.contextmanager
def local_stack(
    *,
    function_log: IO[str],
    ports: Ports = Ports(),
    extra_env: Mapping[str, str] | None = None,
    older_version: bool = False,
    event_function: bool = False,
) -> Iterator[Stack]:
    """Start the emulators, seed SECRET with a key that expires in a day, start the function.

    With ``older_version``, an older copy of the document is added first as version 1, so that
    a rotation has something to sweep. With ``event_function``, ``rotate_event`` is served too,
    by a second functions-framework process (one serves one target). Everything is stopped on
    exit.
    """
    with tempfile.TemporaryDirectory(prefix="rotation-local-") as scratch:
        key_file = Path(scratch) / "momento-console-download.json"
        secret_manager, sm_address = start_emulator(
            "devtools.emulators.secret_manager", port=ports.secret_manager
        )
        with stopping(secret_manager):
            momento, momento_address = start_emulator(
                "devtools.emulators.momento",
                "--seed-key-file",
                str(key_file),
                "--seed-lifetime",
                "30d",
                "--seed-expires-in",
                "1d",
                port=ports.momento,
            )
            with stopping(momento):
                client = secretmanager.SecretManagerServiceClient(
                    transport=SecretManagerServiceGrpcTransport(
                        channel=grpc.insecure_channel(sm_address)
                    )
                )
                try:
                    seed(client, key_file.read_bytes(), older_version=older_version)
                    env = {
                        "ROTATION_SECRETS": SECRET,
                        "GOOGLE_CLOUD_PROJECT": PROJECT,
                        "SECRET_MANAGER_EMULATOR_HOST": sm_address,
                        "MOMENTO_CONTROL_ENDPOINT": momento_address,
                        "MOMENTO_CONTROL_INSECURE": "true",
                        **(extra_env or {}),
                    }
                    function, url = start_function(env, log=function_log, port=ports.function)
                    with stopping(function):
                        if not event_function:
                            yield Stack(url=url, event_url=None, env=env, client=client)
                            return
                        events, event_url = start_function(
                            env, log=function_log, port=ports.event_function, target="rotate_event"
                        )
                        with stopping(events):
                            yield Stack(url=url, event_url=event_url, env=env, client=client)
                finally:
                    client.transport.close()  # type: ignore[no-untyped-call]


def seed(client: Any, console_json: bytes, *, older_version: bool) -> None:
    """Create SECRET and add the console-downloaded token JSON as its latest version."""
    client.create_secret(
        request={
            "parent": f"projects/{PROJECT}",
            "secret_id": SECRET_ID,
            "secret": {"replication": {"automatic": {}}},
        }
    )
    if older_version:
        previous = json.loads(console_json)
        previous["note"] = "an older version, superseded by version 2"
        client.add_secret_version(
            request={"parent": SECRET, "payload": {"data": json.dumps(previous).encode()}}
        )
    client.add_secret_version(request={"parent": SECRET, "payload": {"data": console_json}})
