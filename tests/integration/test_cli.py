"""``python -m rotation``: one rotation from a shell, with the function's code and exit codes.

stdout holds the JSON answer and nothing else; logs and explanations go to stderr. Exit 0 when
nothing failed, 1 when a secret failed, 2 for what the operator must fix first (usage,
configuration, credentials, an emulator that is not running).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from devtools.processes import free_port
from tests.integration.conftest import World
from tests.keys import service_account_key

DAY = timedelta(days=1)


def run_cli(world: World, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # No ROTATION_SECRETS from the environment: the flags under test must supply it.
    return world.run_python("-m", "rotation", *args, **{"ROTATION_SECRETS": "", **env})


def answer(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """stdout, parsed whole: it must be one JSON document and nothing else."""
    return dict(json.loads(done.stdout))


def log_lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]


def test_dry_run_reports_and_changes_nothing(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    done = run_cli(world, "--secrets", secret, "--dry-run")
    assert done.returncode == 0
    assert answer(done)["results"][0]["reason"].startswith("dry run: would refresh")
    assert world.states(secret) == {1: "ENABLED"}


def test_stdout_is_only_the_answer_and_logs_go_to_stderr(world: World) -> None:
    """`python -m rotation ... | jq` works: the structured log lines are on stderr."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    done = run_cli(world, "--secrets", secret)
    assert done.returncode == 0
    assert answer(done)["results"][0]["action"] == "refreshed"
    assert [line["event"] for line in log_lines(done)] == ["rotation.result"]


def test_rotation_by_hand_refreshes(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    done = run_cli(world, "--secrets", secret.rsplit("/", 1)[1], "--force")
    assert done.returncode == 0
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}
    assert "did not refresh" not in done.stderr


def test_a_second_force_within_the_lease_duration_says_why_it_did_nothing(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    assert run_cli(world, "--secrets", secret, "--force").returncode == 0

    again = run_cli(world, "--secrets", secret, "--force")

    assert again.returncode == 0
    assert answer(again)["results"][0]["action"] == "skipped"
    assert f"--force did not refresh {secret}: another invocation refreshed" in again.stderr
    assert "LEASE_DURATION" in again.stderr
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def test_a_failed_secret_exits_1(world: World) -> None:
    secret = world.new_secret()
    world.seed(secret, b"not json")
    done = run_cli(world, "--secrets", secret)
    assert done.returncode == 1
    assert answer(done)["ok"] is False


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["--secrets", "bad/name/../x"], {}, "--secrets"),
        (["--secrets", "momento-api-key"], {"GOOGLE_CLOUD_PROJECT": ""}, "--project is not set"),
        (["--secrets", "momento-api-key", "--project", "Not A Project"], {}, "--project="),
        ([], {"ROTATION_SECRETS": "bad/name"}, "ROTATION_SECRETS"),
        (
            ["--secrets", "momento-api-key"],
            {"GOOGLE_CLOUD_PROJECT": "Bad"},
            "GOOGLE_CLOUD_PROJECT=",
        ),
    ],
    ids=["bad-flag", "short-name-without-project", "bad-project-flag", "bad-variable", "bad-env"],
)
def test_bad_configuration_exits_2_naming_what_the_user_typed(
    world: World, args: list[str], env: dict[str, str], names: str
) -> None:
    done = world.run_python("-m", "rotation", *args, **{"ROTATION_SECRETS": "", **env})
    assert done.returncode == 2
    assert done.stderr.startswith("rotation: ")
    assert names in done.stderr
    assert done.stdout == ""


def test_an_emulator_that_is_not_running_fails_fast_and_says_so(world: World) -> None:
    secret = world.new_secret()
    address = f"127.0.0.1:{free_port()}"

    started = time.monotonic()
    done = run_cli(world, "--secrets", secret, SECRET_MANAGER_EMULATOR_HOST=address)
    elapsed = time.monotonic() - started

    assert done.returncode == 2
    assert f"no Secret Manager emulator answers at {address}" in done.stderr
    assert done.stdout == ""
    # The store's own deadline is 60 s; the connection check gives up after 5.
    assert elapsed < 30, f"took {elapsed:.0f}s"


def test_a_momento_emulator_that_is_not_running_is_named_at_once(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    address = f"127.0.0.1:{free_port()}"

    done = run_cli(world, "--secrets", secret, MOMENTO_CONTROL_ENDPOINT=address)

    assert done.returncode == 1
    error = answer(done)["results"][0]["error"]
    assert error["code"] == "unavailable"
    assert f"is anything serving MOMENTO_CONTROL_ENDPOINT={address}?" in error["message"]
    assert world.states(secret) == {1: "ENABLED"}


def without_google_credentials(home: Path, **more: str) -> dict[str, str]:
    """No emulator, no ADC file, no gcloud config, and a metadata server that refuses at once."""
    return {
        "SECRET_MANAGER_EMULATOR_HOST": "",
        "HOME": str(home),
        "CLOUDSDK_CONFIG": str(home / "gcloud"),
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        **more,
    }


def test_no_credentials_says_what_to_run_and_exits_2(world: World, tmp_path: Path) -> None:
    done = run_cli(
        world, "--project", "my-project", "--secrets", "momento-api-key",
        **without_google_credentials(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2
    assert "gcloud auth application-default login" in done.stderr
    assert "internal_error" not in done.stdout + done.stderr
    assert done.stdout == ""


class RefusingTokenService(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint, refusing every grant as a revoked one."""

    def do_POST(self) -> None:
        body = json.dumps(
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        )
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def refusing_token_service() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), RefusingTokenService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/token"
    server.shutdown()
    server.server_close()


def test_refused_credentials_say_what_to_run_and_exit_2(
    world: World, tmp_path: Path, refusing_token_service: str
) -> None:
    adc = tmp_path / "adc.json"
    account = "rotation@my-project.iam.gserviceaccount.com"
    adc.write_text(json.dumps(service_account_key(refusing_token_service, account, "my-project")))
    done = run_cli(
        world, "--project", "my-project", "--secrets", "momento-api-key",
        **without_google_credentials(tmp_path, GOOGLE_APPLICATION_CREDENTIALS=str(adc)),
    )  # fmt: skip
    assert done.returncode == 2
    assert "refused your Application Default Credentials" in done.stderr
    assert "gcloud auth application-default login" in done.stderr
    assert "PRIVATE KEY" not in done.stdout + done.stderr


# ------------------------------------------------------------------------------------ seed


def test_seed_adds_the_console_download_as_a_new_version(world: World, tmp_path: Path) -> None:
    secret = world.new_secret()
    download = tmp_path / "momento-api-key.json"
    download.write_bytes(json.dumps(world.issue(expires_in=20 * DAY).console_json()).encode())

    done = run_cli(world, "seed", "--from", str(download), secret)

    assert done.returncode == 0, done.stderr
    seeded = answer(done)
    assert seeded["ok"] is True
    assert seeded["version"].endswith("/versions/1")
    assert world.document(secret, 1) == json.loads(download.read_text())
    # ... then refreshed once, which is the only test of its refresh token.
    assert seeded["refresh"]["action"] == "refreshed"
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def test_seed_with_a_spent_refresh_token_stores_it_then_fails_at_once(
    world: World, tmp_path: Path
) -> None:
    """Not a day later, at the next scheduled run: the download is kept (persist first), and
    the failure says what rotate would say."""
    secret = world.new_secret()
    issued = world.issue(expires_in=20 * DAY)
    world.spend(issued)
    download = tmp_path / "momento-api-key.json"
    download.write_bytes(json.dumps(issued.console_json()).encode())

    done = run_cli(world, "seed", "--from", str(download), secret)

    assert done.returncode == 1
    seeded = answer(done)
    assert (seeded["ok"], seeded["refresh"]["error"]["code"]) == (False, "authentication")
    assert "refreshing it failed" in done.stderr and "Momento console" in done.stderr
    assert world.states(secret) == {1: "ENABLED"}


def test_seed_without_refreshing_says_how_to_test_the_token(world: World, tmp_path: Path) -> None:
    secret = world.new_secret()
    download = tmp_path / "momento-api-key.json"
    download.write_bytes(json.dumps(world.issue(expires_in=20 * DAY).console_json()).encode())

    done = run_cli(world, "seed", "--from", str(download), secret, "--no-refresh")

    assert done.returncode == 0, done.stderr
    assert answer(done)["refresh"] is None
    assert f"rotate --force --secrets {secret}" in done.stderr
    assert world.states(secret) == {1: "ENABLED"}


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b"not json", "--from"),
        ("no-refresh-token", "refreshToken"),
        ("v2", "v2"),
        ("expired", "expired"),
    ],
    ids=["not-json", "no-refresh-token", "v2-key", "expired-key"],
)
def test_seed_refuses_what_the_function_could_not_rotate(
    world: World, tmp_path: Path, content: bytes | str, names: str
) -> None:
    secret = world.new_secret()
    download = tmp_path / "download.json"
    if content == "no-refresh-token":
        document = world.issue(expires_in=DAY).console_json()
        del document["refreshToken"]
        content = json.dumps(document).encode()
    elif content == "v2":
        content = json.dumps(world.issue(expires_in=DAY, form="v2").console_json()).encode()
    elif content == "expired":
        content = json.dumps(world.issue(expires_in=-DAY).console_json()).encode()
    assert isinstance(content, bytes)
    download.write_bytes(content)

    done = run_cli(world, "seed", "--from", str(download), secret)

    assert done.returncode == 2
    assert done.stderr.startswith("rotation: ")
    assert names in done.stderr
    assert world.states(secret) == {}


def test_seed_into_a_secret_that_does_not_exist_says_so(world: World, tmp_path: Path) -> None:
    download = tmp_path / "download.json"
    download.write_bytes(json.dumps(world.issue(expires_in=20 * DAY).console_json()).encode())
    missing = "projects/demo-project/secrets/never-created"

    done = run_cli(world, "seed", "--from", str(download), missing)

    assert done.returncode == 1
    assert "not found" in done.stderr
    assert done.stdout == ""


# ---------------------------------------------------------------------------------- status


def test_status_says_what_the_next_run_would_do_and_changes_nothing(world: World) -> None:
    secret = world.new_secret()
    for age in (30, 20, 10):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.seed_key(secret, expires_in=DAY)
    world.secret_manager.set_version_aliases(secret, {"stable": 1})
    calls = dict(world.secret_manager.calls)

    done = run_cli(world, "status", secret, "--json")

    assert done.returncode == 0, done.stderr
    (status,) = answer(done)["secrets"]
    assert status["latest_version"].endswith("/versions/4")
    assert (status["due"], status["error"]) == (True, None)
    assert [v.rsplit("/", 1)[1] for v in status["next_sweep_disables"]] == ["2"]
    assert [(k["version"].rsplit("/", 1)[1], k["aliases"]) for k in status["kept_versions"]] == [
        ("1", ["stable"])
    ]
    assert status["lease"] is None
    # Reads only: one access, one list, one get.
    writes = ("AddSecretVersion", "UpdateSecret", "DisableSecretVersion")
    assert all(world.secret_manager.calls[m] == calls.get(m, 0) for m in writes)
    assert set(world.states(secret).values()) == {"ENABLED"}


def test_status_shows_the_record_a_refresh_left(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    assert run_cli(world, "--secrets", secret).returncode == 0

    done = run_cli(world, "status", secret)

    assert done.returncode == 0, done.stderr
    assert "next run    skips: the key expires at" in done.stdout
    assert "lease       superseded (version 1, taken" in done.stdout


def test_status_of_a_broken_secret_names_the_error_and_exits_1(world: World) -> None:
    secret = world.new_secret()
    world.seed(secret, b"not json")

    done = run_cli(world, "status", secret, "--json")

    assert done.returncode == 1
    (status,) = answer(done)["secrets"]
    assert status["error"]["code"] == "invalid_token_document"
    assert status["next_sweep_disables"] == []


def test_seed_refuses_to_write_under_dry_run(world: World, tmp_path: Path) -> None:
    secret = world.new_secret()
    download = tmp_path / "download.json"
    download.write_bytes(json.dumps(world.issue(expires_in=20 * DAY).console_json()).encode())

    done = run_cli(world, "seed", "--from", str(download), secret, DRY_RUN="true")

    assert done.returncode == 2
    assert "DRY_RUN" in done.stderr
    assert world.states(secret) == {}
