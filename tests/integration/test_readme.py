"""The README's commands work as written: each block a user is told to type is run here, verbatim,
and its output checked against what the README promises.

The test command itself (``./dev.sh test``) is what runs this; CI runs it on a fresh clone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.processes import port_is_free
from devtools.serve import DEFAULT_PORTS
from devtools.serve import commands as serve_commands
from tests.integration.conftest import ROOT, World
from tests.readme import block, commands

DAY = timedelta(days=1)
# The variables that would point a command at emulators: the README's commands set their own.
_EMULATOR_VARIABLES = (
    "SECRET_MANAGER_EMULATOR_HOST",
    "MOMENTO_CONTROL_ENDPOINT",
    "MOMENTO_CONTROL_INSECURE",
    "ROTATION_SECRETS",
    "GOOGLE_CLOUD_PROJECT",
)


def user_env(**more: str) -> dict[str, str]:
    """The user's shell: this machine's environment, without anything the tests set."""
    env = {k: v for k, v in os.environ.items() if k not in _EMULATOR_VARIABLES}
    return {**env, **more}


def run(
    command: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_demo_command_runs_a_rotation_and_shows_it() -> None:
    (demo,) = [line for line in commands("two-commands") if line.startswith("./dev.sh demo")]
    done = run(demo, user_env())
    assert done.returncode == 0, done.stdout + done.stderr
    for promised in (
        "== before ==",
        "refreshed:",
        "disabled:",
        "== after ==",
        "skipped:",
        "published SECRET_ROTATE",
        "== after the scheduled rotation ==",
    ):
        assert promised in done.stdout
    assert '"event": "rotation.result"' in done.stdout


@pytest.fixture
def served() -> Iterator[subprocess.Popen[str]]:
    """``./dev.sh serve`` as a user starts it, in its own process group as a terminal would."""
    ports = (
        DEFAULT_PORTS.function,
        DEFAULT_PORTS.secret_manager,
        DEFAULT_PORTS.momento,
        DEFAULT_PORTS.event_function,
    )
    busy = [port for port in ports if not port_is_free(port)]
    assert not busy, f"./dev.sh serve needs ports {busy}, which something else holds"
    process = subprocess.Popen(
        ["bash", "-c", "./dev.sh serve"],
        cwd=ROOT,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            # Ctrl-C first: serve stops the functions, which run in sessions of their own.
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 90) -> str:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    pytest.fail(f"no {marker!r} from ./dev.sh serve; it printed:\n{''.join(seen)}")


def test_serve_prints_the_readme_commands_and_they_work(served: subprocess.Popen[str]) -> None:
    printed = read_until(served, "press Ctrl-C")
    # The README shows exactly what serve prints, so the two cannot drift apart.
    assert block("serve") in printed
    dry_run, rotate, again, cli, scheduled = commands("serve")

    answers: list[dict[str, Any]] = []
    for command in (dry_run, rotate, again):
        done = run(command, user_env())
        assert done.returncode == 0, done.stderr
        answers.append(json.loads(done.stdout))
        if command is rotate:
            rotated_at = time.monotonic()
    assert [answer["results"][0]["action"] for answer in answers] == [
        "skipped",
        "refreshed",
        "skipped",
    ]
    assert answers[0]["results"][0]["reason"].startswith("dry run: would refresh")
    assert "more than 3d from now" in answers[2]["results"][0]["reason"]

    done = run(cli, user_env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dry_run"] is True

    # As the README says: a scheduled rotation refreshes once LEASE_DURATION has passed.
    time.sleep(max(0.0, rotated_at + 10.5 - time.monotonic()))
    done = run(scheduled, user_env())
    assert (done.returncode, done.stdout) == (0, "OK"), done.stderr
    read_until(served, "refreshed: forced")

    # Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
    os.killpg(served.pid, signal.SIGINT)
    rest, _ = served.communicate(timeout=30)
    assert served.returncode == 0, rest
    assert "stopped" in rest
    for port in (
        DEFAULT_PORTS.function,
        DEFAULT_PORTS.secret_manager,
        DEFAULT_PORTS.momento,
        DEFAULT_PORTS.event_function,
    ):
        assert port_is_free(port), f"port {port} still held after Ctrl-C"


def test_serve_commands_are_what_the_readme_shows() -> None:
    env = {
        "SECRET_MANAGER_EMULATOR_HOST": f"127.0.0.1:{DEFAULT_PORTS.secret_manager}",
        "MOMENTO_CONTROL_ENDPOINT": f"127.0.0.1:{DEFAULT_PORTS.momento}",
        "MOMENTO_CONTROL_INSECURE": "true",
    }
    url = f"http://127.0.0.1:{DEFAULT_PORTS.function}/"
    event_url = f"http://127.0.0.1:{DEFAULT_PORTS.event_function}/"
    assert serve_commands(url, event_url, env) == block("serve")


def test_the_cli_commands_run_as_written(world: World) -> None:
    """The by-hand CLI block, against the emulators instead of Google (the only difference)."""
    install, dry_run, force = commands("cli")
    assert install == "pip install -r requirements.txt"  # .venv already holds these
    secret = "projects/my-project/secrets/momento-api-key"
    world.secret_manager.create_secret(secret)
    world.secrets.append(secret)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json())
    # `python` is the virtualenv's, as in a shell where it is activated.
    env = user_env(
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **{name: world.env[name] for name in _EMULATOR_VARIABLES[:3]},
    )

    looked = run(dry_run, env)
    assert looked.returncode == 0, looked.stderr
    answer = json.loads(looked.stdout)
    assert (answer["dry_run"], answer["results"][0]["action"]) == (True, "skipped")

    forced = run(force, env)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["results"][0]["action"] == "refreshed"
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}
