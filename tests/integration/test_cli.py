"""``python -m rotation``: one rotation from a shell, with the function's code and exit codes."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

from tests.integration.conftest import World

DAY = timedelta(days=1)


def run_cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    # No ROTATION_SECRETS from the environment: the flags under test must supply it.
    return world.run_python("-m", "rotation", *args, ROTATION_SECRETS="")


def result_of(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The JSON document printed last, after the function's one-line logs."""
    text = done.stdout
    return dict(json.loads(text[text.index("{\n") :]))


def test_dry_run_reports_and_changes_nothing(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    done = run_cli(world, "--secrets", secret, "--dry-run")
    assert done.returncode == 0
    body = result_of(done)
    assert body["results"][0]["reason"].startswith("dry run: would refresh")  # type: ignore[index]
    assert world.states(secret) == {1: "ENABLED"}


def test_rotation_by_hand_refreshes(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    done = run_cli(world, "--secrets", secret.rsplit("/", 1)[1], "--force")
    assert done.returncode == 0
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def test_a_failed_secret_exits_1(world: World) -> None:
    secret = world.new_secret()
    world.seed(secret, b"not json")
    done = run_cli(world, "--secrets", secret)
    assert done.returncode == 1
    assert result_of(done)["ok"] is False


def test_bad_configuration_exits_2_naming_the_variable(world: World) -> None:
    done = run_cli(world, "--secrets", "bad/name/../x")
    assert done.returncode == 2
    assert "ROTATION_SECRETS" in done.stderr
