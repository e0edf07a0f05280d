"""Everything the function talks to, on this machine: both emulators, a seeded secret, the function.

Shared by ``./dev.sh demo`` (which drives one rotation and stops) and ``./dev.sh serve`` (which
keeps it all running for the user's own requests). All are real processes speaking the real
protocols: the Secret Manager and Momento emulators over gRPC, the function under
functions-framework as Cloud Functions runs it.

``python -m devtools.local_stack`` is the Momento emulator as this module starts it: like
``python -m devtools.emulators.momento``, but ``--seed-key-file`` and ``--seed-expires-in`` may
be repeated, one pair per demo secret. Each seeded key is its own lineage, so refreshing one
secret's key never spends the refresh token of another's.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import grpc
from google.cloud import secretmanager
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from devtools.emulators._server import argument_parser, serve_until_signalled
from devtools.emulators.momento import MomentoEmulator, write_private_json
from devtools.processes import start_emulator, start_function, stopping
from rotation.rules.durations import parse_duration

PROJECT = "demo-project"
SECRET_ID = "momento-api-key"
SECRET = f"projects/{PROJECT}/secrets/{SECRET_ID}"
# Serve's second demo secret, for the scheduled rotation: its key expires in 30 days, beyond
# REFRESH_BEFORE (3d), so HTTP rotations skip it and only a SECRET_ROTATE event refreshes it.
SCHEDULED_SECRET_ID = "momento-api-key-scheduled"
SCHEDULED_SECRET = f"projects/{PROJECT}/secrets/{SCHEDULED_SECRET_ID}"
# A regional secret with the same id, for --regional: a different secret, whose data stays in
# one location and which only that location's endpoint serves.
REGION = "us-central1"
REGIONAL_SECRET = f"projects/{PROJECT}/locations/{REGION}/secrets/{SECRET_ID}"
# Every seeded key is issued with this lifetime, which each refresh then grants anew.
SEED_LIFETIME = "30d"
SEED_EXPIRES_IN = {SECRET: "1d", SCHEDULED_SECRET: SEED_LIFETIME, REGIONAL_SECRET: "1d"}


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
    scheduled_secret: bool = False,
    regional_secret: bool = False,
) -> Iterator[Stack]:
    """Start the emulators, seed SECRET with a key that expires in a day, start the function.

    With ``older_version``, an older copy of the document is added first as version 1, so that
    a rotation has something to sweep. With ``event_function``, ``rotate_event`` is served too,
    by a second functions-framework process (one serves one target). With
    ``scheduled_secret``, SCHEDULED_SECRET is seeded too, with a key that expires in 30 days,
    and the function manages both. With ``regional_secret``, REGIONAL_SECRET (in REGION) is
    seeded too, with a key that expires in a day. Everything is stopped on exit.
    """
    secrets = (
        SECRET,
        *((SCHEDULED_SECRET,) if scheduled_secret else ()),
        *((REGIONAL_SECRET,) if regional_secret else ()),
    )
    with tempfile.TemporaryDirectory(prefix="rotation-local-") as scratch:
        key_files = {
            secret: Path(scratch) / f"{_file_stem(secret)}-console-download.json"
            for secret in secrets
        }
        secret_manager, sm_address = start_emulator(
            "devtools.emulators.secret_manager", port=ports.secret_manager
        )
        with stopping(secret_manager):
            momento, momento_address = start_emulator(
                "devtools.local_stack", *_seed_arguments(key_files), port=ports.momento
            )
            with stopping(momento):
                client = secretmanager.SecretManagerServiceClient(
                    transport=SecretManagerServiceGrpcTransport(
                        channel=grpc.insecure_channel(sm_address)
                    )
                )
                try:
                    for secret, key_file in key_files.items():
                        seed(
                            client,
                            secret,
                            key_file.read_bytes(),
                            older_version=older_version and secret == SECRET,
                        )
                    env = {
                        "ROTATION_SECRETS": ",".join(secrets),
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


def _file_stem(secret: str) -> str:
    """A file name for ``secret``'s console download: its id, and its location if it has one."""
    parts = secret.split("/")
    return "-".join((parts[3], parts[5])) if "/locations/" in secret else parts[3]


def seed(client: Any, secret: str, console_json: bytes, *, older_version: bool) -> None:
    """Create ``secret`` and add the console-downloaded token JSON as its latest version."""
    parent, _, secret_id = secret.rpartition("/secrets/")
    # A regional secret's data stays in its location: it takes no replication policy.
    fields: dict[str, Any] = {} if "/locations/" in parent else {"replication": {"automatic": {}}}
    client.create_secret(request={"parent": parent, "secret_id": secret_id, "secret": fields})
    if older_version:
        previous = json.loads(console_json)
        previous["note"] = "an older version, superseded by version 2"
        client.add_secret_version(
            request={"parent": secret, "payload": {"data": json.dumps(previous).encode()}}
        )
    client.add_secret_version(request={"parent": secret, "payload": {"data": console_json}})


def _seed_arguments(key_files: Mapping[str, Path]) -> list[str]:
    arguments = ["--seed-lifetime", SEED_LIFETIME]
    for secret, key_file in key_files.items():
        arguments += [
            "--seed-key-file",
            str(key_file),
            "--seed-expires-in",
            SEED_EXPIRES_IN[secret],
        ]
    return arguments


def serve_momento(argv: Sequence[str] | None = None) -> int:
    """The Momento emulator, seeding one console-style key file per ``--seed-key-file``.

    The emulator's own entry point seeds one key; keys of one lineage share one refresh token,
    so two secrets seeded from it could not both be refreshed.
    """
    parser = argument_parser(
        "devtools.local_stack",
        "Serve the Momento emulator, seeding one key file per --seed-key-file.",
        default_port=0,
    )
    parser.add_argument(
        "--seed-key-file", type=Path, action="append", required=True, help="repeatable"
    )
    parser.add_argument(
        "--seed-expires-in",
        type=parse_duration,
        action="append",
        required=True,
        help="how soon each seed key expires, in the order of --seed-key-file",
    )
    parser.add_argument("--seed-lifetime", type=parse_duration, default=timedelta(days=30))
    args = parser.parse_args(argv)
    if len(args.seed_key_file) != len(args.seed_expires_in):
        parser.error("give one --seed-expires-in per --seed-key-file")
    seeds = list(zip(args.seed_key_file, args.seed_expires_in, strict=True))
    if not all(timedelta(0) < expires_in <= args.seed_lifetime for _, expires_in in seeds):
        parser.error("each --seed-expires-in must be positive and at most --seed-lifetime")
    emulator = MomentoEmulator()

    def write_seeds() -> None:
        for key_file, expires_in in seeds:
            key = emulator.issue_key(lifetime=args.seed_lifetime, expires_in=expires_in)
            write_private_json(key_file, key.console_json())

    return serve_until_signalled(
        emulator,
        "momento emulator",
        host=args.host,
        port=args.port,
        before_banner=write_seeds,
    )


if __name__ == "__main__":
    sys.exit(serve_momento())
