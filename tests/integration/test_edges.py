"""The edges, through the emulators and the public faces: each tells the truth.

A secret about to be deleted, or gone; a latest version lost by hand; a customer-managed key
turned off; a credential refused inside INTERNAL; a publish time from the future; a redelivery
storm; and the small things a newcomer met in the first hour.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest

from devtools.processes import free_port
from momento_key_common.errors import ErrorCode, SecretStoreError, SetupError
from rotation.adapters.secret_store import GoogleSecretStore
from tests.integration.conftest import PROJECT, ROOT, World
from tests.integration.test_rotate_event import by_number, deliver, notification
from tests.keys import service_account_key

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def results_logged(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "rotation.result"]


def cli(world: World, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return world.run_python("-m", "rotation", *args, **{"ROTATION_SECRETS": "", **env})


# ------------------------------------------------------------- the secret's own expiry


def test_a_secret_that_expires_within_refresh_before_fails_and_says_when(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """A key good for 20 days in a secret deleted in an hour is not safe: it fails today."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    expires = (datetime.now(UTC) + HOUR).replace(microsecond=0)
    world.secret_manager.set_expire_time(secret, expires)

    call = world.call()

    result = call.only()
    assert (call.status, result["action"]) == (500, "failed")
    assert result["error"]["code"] == "secret_expiring"
    assert secret in result["error"]["message"]
    assert expires.strftime("%Y-%m-%dT%H:%M:%SZ") in result["error"]["message"]
    (line,) = results_logged(log_lines())
    assert (line["severity"], line["error_code"]) == ("ERROR", "secret_expiring")


def test_a_due_key_in_an_expiring_secret_is_refreshed_first_and_the_result_names_it(
    world: World,
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    world.secret_manager.set_expire_time(secret, datetime.now(UTC) + HOUR)

    result = world.call().only()

    assert (result["action"], result["error"]["code"]) == ("failed", "secret_expiring")
    assert result["version"].endswith("/versions/2")
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def test_status_shows_the_secret_s_own_expiry(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.set_expire_time(secret, datetime.now(UTC) + HOUR)

    done = cli(world, "status", secret, "--json")

    assert done.returncode == 1
    (status,) = json.loads(done.stdout)["secrets"]
    assert status["secret_expire_time"] is not None
    assert status["error"]["code"] == "secret_expiring"


# ------------------------------------------------------------- losing the secret


def test_a_deleted_secret_fails_naming_it_and_where_its_name_came_from(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.configure(ROTATION_SECRETS=secret)
    world.secret_manager.set_expire_time(secret, datetime.now(UTC) - timedelta(seconds=1))

    result = world.call().only()
    done = cli(world, "--secrets", secret)

    assert (result["action"], result["error"]["code"]) == ("failed", "not_found")
    message = result["error"]["message"]
    assert f"{secret} does not exist" in message and "named in ROTATION_SECRETS" in message
    assert done.returncode == 1
    (from_cli,) = json.loads(done.stdout)["results"]
    assert "named in --secrets" in from_cli["error"]["message"]


def test_secret_delete_for_a_managed_secret_is_an_error_and_acknowledged(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.set_expire_time(secret, datetime.now(UTC) - timedelta(seconds=1))

    delivery = deliver(world, notification(by_number(secret), event_type="SECRET_DELETE"))

    assert delivery.status == 200, "redelivery can't bring the secret back"
    (line,) = results_logged(log_lines())
    assert (line["severity"], line["error_code"], line["secret"]) == (
        "ERROR",
        "secret_deleted",
        secret,
    )
    assert "was deleted" in line["message"]


def test_secret_delete_for_a_secret_this_deployment_does_not_manage_is_ignored(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    world.seed_key(world.new_secret(), expires_in=20 * DAY)
    other = by_number(f"projects/{PROJECT}/secrets/someone-elses")

    delivery = deliver(world, notification(other, event_type="SECRET_DELETE"))

    assert delivery.status == 200
    assert not results_logged(log_lines())


def version_event(secret: str, event_type: str, number: int) -> dict[str, Any]:
    event = notification(by_number(secret), event_type=event_type)
    event["message"]["attributes"]["versionId"] = f"{by_number(secret)}/versions/{number}"
    return event


@pytest.mark.parametrize("state", ["DISABLED", "DESTROYED"])
def test_losing_the_latest_version_by_hand_is_an_error_event(
    world: World, log_lines: Callable[[], list[dict[str, Any]]], state: str
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), state=state)
    event_type = {"DISABLED": "SECRET_VERSION_DISABLE", "DESTROYED": "SECRET_VERSION_DESTROY"}[
        state
    ]

    delivery = deliver(world, version_event(secret, event_type, 2))

    assert delivery.status == 200
    (line,) = results_logged(log_lines())
    assert (line["severity"], line["error_code"]) == ("ERROR", "latest_version_not_enabled")
    assert f"{state.lower()}" in line["message"] and "never disables the latest" in line["message"]


def test_disabling_an_older_version_is_no_news(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """The sweep disables superseded versions every day: their events are not alarms."""
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), state="DISABLED")
    world.seed_key(secret, expires_in=20 * DAY)

    delivery = deliver(world, version_event(secret, "SECRET_VERSION_DISABLE", 1))

    assert delivery.status == 200
    assert not results_logged(log_lines())


def test_a_latest_version_disabled_by_hand_fails_the_next_http_run_saying_so(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), state="DISABLED")

    result = world.call().only()

    assert result["error"]["code"] == "latest_version_not_enabled"
    assert "versions/2 is DISABLED" in result["error"]["message"]
    assert "enable the version" in result["error"]["message"]


def test_a_secret_named_by_number_is_found_whatever_its_latest_version_s_state(
    world: World,
) -> None:
    """The project number is learned from the secret (GetSecret), not from its latest payload:
    a disabled latest version is this secret's failure, not a 500 for the whole request."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), state="DISABLED")

    call = world.call({"secrets": [by_number(secret)]})

    assert [result["secret"] for result in call.results] == [secret]
    assert call.only()["error"]["code"] == "latest_version_not_enabled"


def test_a_disabled_customer_managed_key_is_not_called_a_disabled_version(world: World) -> None:
    """AccessSecretVersion is FAILED_PRECONDITION either way; the version's state tells which,
    and adding a version (the advice for a disabled one) would fail the same way."""
    key = f"projects/{PROJECT}/locations/global/keyRings/ring/cryptoKeys/momento"
    secret = f"projects/{PROJECT}/secrets/momento-cmek-{datetime.now(UTC).timestamp():.0f}"
    world.secret_manager.create_secret(secret, kms_key_name=key)
    world.secrets.append(secret)
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.set_kms_key_enabled(key, False)
    try:
        result = world.call().only()
    finally:
        world.secret_manager.set_kms_key_enabled(key, True)

    assert result["error"]["code"] == "latest_version_unreadable"
    message = result["error"]["message"]
    assert "which is ENABLED" in message and "Cloud KMS key" in message
    assert "cryptoKeys/momento" in message, "the service's own words are kept"


# ------------------------------------------------------------- transient is transient


class TokenService(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint: refuses every grant, or grants every one."""

    refuse = True

    def do_POST(self) -> None:
        if self.refuse:
            status, body = 400, {"error": "invalid_grant", "error_description": "revoked"}
        else:
            status, body = 200, {"access_token": "ya29.fake", "expires_in": 3600}
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def token_service() -> Iterator[type[TokenService]]:
    handler = type("Handler", (TokenService,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}/token"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("refused", [True, False], ids=["refused", "accepted"])
def test_internal_that_outlasts_the_retries_is_transient_unless_the_credential_is_refused(
    world: World, token_service: type[TokenService], refused: bool
) -> None:
    """A refused credential surfaces inside gRPC as INTERNAL too: the adapter asks the token
    service directly, never reads the message."""
    from google.oauth2 import service_account  # noqa: PLC0415

    account = "rotation@demo-project.iam.gserviceaccount.com"
    info = service_account_key(token_service.url, account, PROJECT)  # type: ignore[attr-defined]
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    token_service.refuse = refused
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.inject_fault("AccessSecretVersion", grpc.StatusCode.INTERNAL, times=-1)
    store = GoogleSecretStore(
        emulator_host=world.secret_manager.address,
        deadline=timedelta(seconds=1),
        credentials=credentials,
    )
    try:
        with pytest.raises(SecretStoreError) as failed:
            store.read_latest(secret)
    finally:
        store.close()

    if refused:
        assert isinstance(failed.value, SetupError)
        assert failed.value.code is ErrorCode.CREDENTIALS_REFUSED
        assert account in failed.value.message
    else:
        assert failed.value.code is ErrorCode.SECRET_MANAGER_INTERNAL
        assert failed.value.code.transient


# ------------------------------------------------------------- two clocks, redeliveries


def test_a_rotation_published_in_the_future_is_not_refreshed_again_by_a_redelivery(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=DAY)
    event = notification(by_number(secret), published=datetime.now(UTC) + DAY)

    first = deliver(world, event)
    second = deliver(world, event)

    assert (first.status, second.status) == (200, 200)
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}
    (skipped,) = [line for line in log_lines() if line.get("event") == "rotation.event_skipped"]
    assert "in the future" in skipped["message"]


def test_redeliveries_log_one_line_each_and_no_traceback(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    now = int(datetime.now(UTC).timestamp())
    held = {"holder": "another-run", "expires_at": now + 300, "base_version": 1, "taken_at": now}
    secret = world.new_secret(annotations={"momento-key-rotation.lease": json.dumps(held)})
    world.seed_key(secret, expires_in=20 * DAY)

    statuses = [deliver(world, notification(by_number(secret))).status for _ in range(3)]

    out, err = capfd.readouterr()
    print(out, err)  # for the leak check at teardown
    assert statuses == [500, 500, 500]
    assert "Traceback" not in out + err
    assert (out + err).count('"event": "rotation.event_redelivered"') == 3


# ------------------------------------------------------------- the first hour


def test_a_plain_text_secret_s_failure_names_the_version_it_read(world: World) -> None:
    secret = world.new_secret()
    world.seed(secret, b"just-a-plain-api-key-in-the-secret")

    result = world.call().only()

    assert result["error"]["code"] == "invalid_token_document"
    assert result["version"].endswith("/versions/1"), "not null: which version is unusable"


def test_status_without_secrets_mentions_the_secret_arguments(world: World) -> None:
    done = cli(world, "status")

    assert done.returncode == 2
    assert "SECRET arguments to status" in done.stderr


def test_a_bad_rotation_secrets_under_functions_framework_is_one_clear_line() -> None:
    """Not a 20-line traceback through functions-framework's loader before the clear line."""
    port = free_port()
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "functions-framework"),
            "--target=rotate",
            "--source=main.py",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        cwd=ROOT,
        env={"PATH": str(Path(sys.executable).parent), "ROTATION_SECRETS": "not a name!"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("rotation: invalid configuration: ")
    assert "ROTATION_SECRETS" in lines[0]


def test_annotations_near_the_limit_leave_no_room_for_the_lease_and_say_how_much_to_free(
    world: World,
) -> None:
    """Secret Manager refuses annotations of 16 KiB or more in all; the emulator enforces it.
    The lease (and its release record) must fit, or no lease is taken and nothing refreshed."""
    secret = world.new_secret(annotations={"team-notes": "x" * 16_200})
    world.seed_key(secret, expires_in=DAY)
    refreshes = world.momento.refreshes

    result = world.call().only()

    assert (result["action"], result["error"]["code"]) == ("failed", "annotations_too_large")
    assert "remove at least" in result["error"]["message"] and secret in result["error"]["message"]
    assert world.momento.refreshes == refreshes, "nothing was refreshed"
    assert world.states(secret) == {1: "ENABLED"}


def test_secret_delete_of_a_secret_managed_by_label_is_still_an_error(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """Once deleted, the secret is no longer listed by its label; the event's copy of the
    secret still carries the label."""
    secret = world.new_secret(labels={"rotation": "momento"})
    world.seed_key(secret, expires_in=20 * DAY)
    world.configure(ROTATION_LABEL="rotation=momento", ROTATION_SECRETS="")
    world.secret_manager.set_expire_time(secret, datetime.now(UTC) - timedelta(seconds=1))
    event = notification(by_number(secret), event_type="SECRET_DELETE")
    resource = {"name": by_number(secret), "labels": {"rotation": "momento"}}
    event["message"]["data"] = base64.b64encode(json.dumps(resource).encode()).decode()

    delivery = deliver(world, event)

    assert delivery.status == 200
    (line,) = results_logged(log_lines())
    assert (line["error_code"], line["secret"]) == ("secret_deleted", secret)


def test_permission_denied_says_where_the_name_came_from_and_that_a_deletion_looks_alike(
    world: World,
) -> None:
    """Secret Manager answers 403 for a secret whose per-secret grant is gone with it."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.inject_fault(
        "AccessSecretVersion", grpc.StatusCode.PERMISSION_DENIED, times=-1
    )

    result = world.call().only()

    assert result["error"]["code"] == "permission_denied"
    message = result["error"]["message"]
    assert "named in ROTATION_SECRETS" in message and "if the secret was deleted" in message


def test_a_lost_race_whose_confirmation_cannot_be_read_cuts_the_sweep_short(world: World) -> None:
    """FAILED_PRECONDITION on a disable, then the re-read that would tell a lost race from a
    real precondition is unavailable: housekeeping is cut short (a warning), not failed."""
    secret = world.new_secret()
    for age in (40, 30, 20):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.secret_manager.inject_fault("DisableSecretVersion", grpc.StatusCode.FAILED_PRECONDITION)
    world.secret_manager.inject_fault("GetSecretVersion", grpc.StatusCode.UNAVAILABLE, times=-1)

    call = world.call()

    result = call.only()
    assert (call.status, result["action"], result["severity"]) == (200, "skipped", "WARNING")
    assert result["attention"]["code"] == "sweep_incomplete"


def test_an_event_that_finds_the_lease_held_and_the_secret_expiring_is_acknowledged(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """The worse row wins: a person must act, and redelivery would only repeat the ERROR."""
    now = int(datetime.now(UTC).timestamp())
    held = {"holder": "another-run", "expires_at": now + 300, "base_version": 1, "taken_at": now}
    secret = world.new_secret(annotations={"momento-key-rotation.lease": json.dumps(held)})
    world.seed_key(secret, expires_in=20 * DAY)
    world.secret_manager.set_expire_time(secret, datetime.now(UTC) + HOUR)

    delivery = deliver(world, notification(by_number(secret)))

    assert delivery.status == 200
    (line,) = results_logged(log_lines())
    assert line["error_code"] == "secret_expiring"
