"""Real servers for integration tests: both emulators, and the function through its app.

The emulators run in this process as real gRPC servers on loopback ports; the function talks to
them with the real ``google-cloud-secret-manager`` client and Momento's generated stubs. Every
test also checks, on teardown, that no key, refresh token or payload it handled appears in any
captured output or response.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import grpc
import pytest
from momento_wire_types import auth_pb2, auth_pb2_grpc

from devtools.emulators.momento import IssuedKey, MomentoEmulator
from devtools.emulators.secret_manager import EmulatorError, SecretManagerEmulator
from momento_key_common.errors import RotationError
from momento_key_common.token import parse_document
from tests.document_schema import violations

ROOT = Path(__file__).resolve().parents[2]
# What a result says when a refresh may have happened whose key could not be stored.
_LOUD_LOSS_PHRASES = ("never stored a result", "may have completed the refresh")
PROJECT = "demo-project"


@pytest.fixture(scope="session")
def secret_manager_server() -> Iterator[SecretManagerEmulator]:
    with SecretManagerEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def momento_server() -> Iterator[MomentoEmulator]:
    with MomentoEmulator() as emulator:
        yield emulator


@pytest.fixture
def secret_manager(secret_manager_server: SecretManagerEmulator) -> Iterator[SecretManagerEmulator]:
    yield secret_manager_server
    secret_manager_server.clear_faults()
    secret_manager_server.latency = 0.0
    secret_manager_server.locations = None  # every well-formed location served again


@pytest.fixture
def momento(momento_server: MomentoEmulator) -> Iterator[MomentoEmulator]:
    yield momento_server
    momento_server.clear_faults()


@dataclass
class Call:
    status: int
    body: dict[str, Any]

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.body["results"])

    def only(self) -> dict[str, Any]:
        (result,) = self.results
        return result


@dataclass
class World:
    """The emulators, the secrets this test made, and a way to call the function."""

    secret_manager: SecretManagerEmulator
    momento: MomentoEmulator
    env: dict[str, str]
    secrets: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    issued: list[IssuedKey] = field(default_factory=list)
    dropped_on_purpose: int = 0

    def new_secret(
        self,
        *,
        short: str | None = None,
        annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        location: str | None = None,
    ) -> str:
        """A new secret in PROJECT: global, or regional in ``location``."""
        parent = f"projects/{PROJECT}" + (f"/locations/{location}" if location else "")
        name = f"{parent}/secrets/{short or 'momento-' + uuid.uuid4().hex[:10]}"
        self.secret_manager.create_secret(name, annotations=annotations, labels=labels)
        self.secrets.append(name)
        return name

    def issue(
        self, *, expires_in: timedelta, lifetime: timedelta = timedelta(days=30), **options: Any
    ) -> IssuedKey:
        issued = self.momento.issue_key(lifetime=lifetime, expires_in=expires_in, **options)
        self.issued.append(issued)
        return issued

    def seed(
        self,
        secret: str,
        document: dict[str, Any] | bytes,
        *,
        age: timedelta = timedelta(0),
        state: str = "ENABLED",
    ) -> str:
        data = document if isinstance(document, bytes) else json.dumps(document).encode()
        return self.secret_manager.add_version(
            secret, data, create_time=datetime.now(UTC) - age, state=state
        )

    def seed_key(self, secret: str, *, expires_in: timedelta, **options: Any) -> IssuedKey:
        issued = self.issue(expires_in=expires_in, **options)
        self.seed(secret, issued.console_json())
        return issued

    def configure(self, **variables: str) -> None:
        self.env.update(variables)

    def call(
        self,
        body: object = None,
        *,
        method: str = "POST",
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Call:
        os.environ.update(self.env)
        if "ROTATION_SECRETS" not in self.env:
            os.environ["ROTATION_SECRETS"] = ",".join(self.secrets)
        app = functions_framework.create_app(target="rotate", source=str(ROOT / "main.py"))
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = app.test_client().open("/", method=method, data=data, content_type=content_type)
        text = response.get_data(as_text=True)
        self.responses.append(text)
        return Call(response.status_code, json.loads(text) if text else {})

    def run_python(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``python ARGS`` from the repository in a fresh interpreter, configured like
        :meth:`call` (``env`` overrides). Its output joins what the leak check searches."""
        variables = {"ROTATION_SECRETS": ",".join(self.secrets), **self.env, **env}
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=variables,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        print(done.stdout, done.stderr)
        return done

    def document(self, secret: str, version: int | str = "latest") -> dict[str, Any]:
        payload = self.secret_manager.payload(secret, version)
        assert payload is not None
        return dict(json.loads(payload))

    def states(self, secret: str) -> dict[int, str]:
        """Every version's state; none for a secret that was deleted (or expired)."""
        try:
            return self.secret_manager.version_states(secret)
        except EmulatorError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                raise
            return {}

    @staticmethod
    def momento_jwt(document: dict[str, Any]) -> str:
        """The inner JWT of a stored document's key."""
        return parse_document(json.dumps(document).encode()).key.jwt

    def spend(self, issued: IssuedKey) -> None:
        """Use a refresh token the way a crashed or rogue run would: its new key is dropped."""
        with grpc.insecure_channel(self.momento.address) as channel:
            auth_pb2_grpc.AuthStub(channel).RefreshApiToken(
                auth_pb2._RefreshApiTokenRequest(
                    api_key=issued.jwt, refresh_token=issued.refresh_token
                ),
                timeout=5,
            )
        self.dropped_on_purpose += 1

    def stored_refreshed_keys(self) -> int:
        """How many distinct keys minted by a refresh are stored in this test's secrets."""
        issued = {key.jwt for key in self.issued}
        stored: set[str] = set()
        for secret in self.secrets:
            for number in self.states(secret):
                try:
                    document = parse_document(self.secret_manager.payload(secret, number) or b"")
                except RotationError:
                    continue
                if document.key.jwt not in issued and self.momento.is_valid(document.key.jwt):
                    stored.add(document.key.jwt)
        return len(stored)

    def written_documents(self) -> list[Any]:
        """Every document the function stored in this test's secrets: those holding a key that a
        refresh minted, not one this test issued."""
        issued = {key.jwt for key in self.issued}
        written = []
        for secret in self.secrets:
            for number in self.states(secret):
                payload = self.secret_manager.payload(secret, number) or b""
                try:
                    document = parse_document(payload)
                except RotationError:
                    continue
                if document.key.jwt not in issued:
                    written.append(json.loads(payload))
        return written

    def reported_unstored(self) -> int:
        """Results that told the operator loudly that a refreshed key was not stored."""
        count = 0
        for text in self.responses:
            # A CloudEvent function answers "OK" or an error page, not the JSON results.
            for result in (json.loads(text) if text.startswith("{") else {}).get("results", []):
                error = result.get("error") or {}
                message = str(error.get("message"))
                if error.get("code") == "refreshed_not_stored" or any(
                    phrase in message for phrase in _LOUD_LOSS_PHRASES
                ):
                    count += 1
        return count

    def secret_values(self) -> set[str]:
        """Every key, inner JWT, refresh token and payload this test's secrets ever held."""
        values: set[str] = set()
        for issued in self.issued:
            values |= {issued.api_key, issued.jwt, issued.refresh_token}
        for secret in self.secrets:
            for number in self.states(secret):
                payload = self.secret_manager.payload(secret, number)
                if not payload:
                    continue
                text = payload.decode("utf-8", "replace")
                values.add(text)
                try:
                    document = json.loads(text)
                except (ValueError, RecursionError):
                    continue
                if isinstance(document, dict):
                    values |= {v for v in document.values() if isinstance(v, str) and len(v) > 16}
        return {value for value in values if len(value) >= 16}


@pytest.fixture
def world(
    secret_manager: SecretManagerEmulator,
    momento: MomentoEmulator,
    capfd: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> Iterator[World]:
    """A test's view of the emulated world, and its invariants checked on teardown.

    Whatever the scenario: no secret value reached any output or response, and no key that
    Momento minted by refresh went missing without a loud ``refreshed_not_stored`` or
    ``never stored a result`` report. Both are recorded for the reliability report.
    """
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "SECRET_MANAGER_EMULATOR_HOST": secret_manager.address,
        "MOMENTO_CONTROL_ENDPOINT": momento.address,
        "MOMENTO_CONTROL_INSECURE": "true",
        "MOMENTO_TIMEOUT": "2s",
        "STORE_DEADLINE": "2s",
    }
    world = World(secret_manager, momento, env)
    refreshes_before = momento.refreshes
    yield world
    out, err = capfd.readouterr()
    captured = "\n".join([out, err, *world.responses])
    leaked = [value[:6] + "..." for value in world.secret_values() if value in captured]
    minted = momento.refreshes - refreshes_before - world.dropped_on_purpose
    lost = max(0, minted - world.stored_refreshed_keys())
    reported = world.reported_unstored()
    record_property("leaks", len(leaked))
    record_property("keys_lost", max(0, lost - reported))
    record_property("keys_unstored_reported", min(lost, reported))
    assert not leaked, f"secret values leaked into output or responses: {leaked}"
    off_schema = [
        problems for document in world.written_documents() if (problems := violations(document))
    ]
    assert not off_schema, (
        f"the function wrote documents the published schema refuses: {off_schema}"
    )
    assert lost <= reported, f"{lost} refreshed key(s) lost without a loud report"


@pytest.fixture
def log_lines(capfd: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """The structured log lines written so far (stdout, one JSON object per line)."""

    def read() -> list[dict[str, Any]]:
        out = capfd.readouterr().out
        # Put it back so the leak check at teardown still sees it.
        print(out, end="")
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read
