"""The README's commands work as written: each block a user is told to type is run here, verbatim,
and its output checked against what the README promises.

The test command itself (``./dev.sh test``) is what runs this; CI runs it on a fresh clone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.local_stack import SCHEDULED_SECRET, SECRET
from devtools.processes import free_port, port_is_free
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
    return read_until_line(process, lambda line: marker in line, marker, timeout)


def read_until_line(
    process: subprocess.Popen[str],
    wanted: Callable[[str], bool],
    what: str,
    timeout: float = 90,
) -> str:
    """What ``process`` printed up to and including the first line that is ``wanted``."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if wanted(line):
            return "".join(seen)
    pytest.fail(f"no {what} from ./dev.sh serve; it printed:\n{''.join(seen)}")


def event_result(line: str, secret: str) -> dict[str, Any] | None:
    """The rotation.result log record of a scheduled rotation of ``secret``, if ``line`` is one.

    The HTTP rotations log one for it too, each a skip: it is more than REFRESH_BEFORE (3d)
    from expiry, which an event's forced rotation ignores.
    """
    if not line.startswith("{"):
        return None
    record = json.loads(line)
    if record.get("event") != "rotation.result" or record.get("secret") != secret:
        return None
    if record["action"] == "skipped" and "more than 3d from now" in record["message"]:
        return None
    return dict(record)


def test_serve_prints_the_readme_commands_and_they_work(served: subprocess.Popen[str]) -> None:
    printed = read_until(served, "press Ctrl-C")
    # The README shows exactly what serve prints, so the two cannot drift apart.
    assert block("serve") in printed
    dry_run, rotate, again, cli, scheduled, status = commands("serve")

    actions: list[dict[str, str]] = []
    for command in (dry_run, rotate, again):
        done = run(command, user_env())
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout)["results"]
        actions.append({result["secret"]: result["action"] for result in results})
        if command is dry_run:
            reasons = {result["secret"]: result["reason"] for result in results}
    # As the comments say: the HTTP rotations refresh the key that expires in a day, once, and
    # skip the one that expires in 30 days, which is left to the scheduled rotation.
    assert actions == [
        {SECRET: "skipped", SCHEDULED_SECRET: "skipped"},
        {SECRET: "refreshed", SCHEDULED_SECRET: "skipped"},
        {SECRET: "skipped", SCHEDULED_SECRET: "skipped"},
    ]
    assert reasons[SECRET].startswith("dry run: would refresh")
    assert "more than 3d from now" in reasons[SCHEDULED_SECRET]

    done = run(cli, user_env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dry_run"] is True

    # Right after the HTTP refresh, as a user pastes it: the event's secret was not refreshed
    # by it, so no lease holds it back.
    done = run(scheduled, user_env())
    assert (done.returncode, done.stdout) == (0, "OK"), done.stderr
    # Where the README says the outcome shows: serve's terminal, and the status command.
    shown = read_until_line(
        served,
        lambda line: event_result(line, SCHEDULED_SECRET) is not None,
        f"rotation.result line of the scheduled rotation of {SCHEDULED_SECRET}",
    )
    result = event_result(shown.splitlines()[-1], SCHEDULED_SECRET)
    assert result is not None
    assert (result["action"], result["error_code"]) == ("refreshed", None), result
    done = run(status, user_env())
    assert done.returncode == 0, done.stderr
    (answer,) = json.loads(done.stdout)["secrets"]
    assert answer["secret"] == SCHEDULED_SECRET
    assert answer["latest_version"].endswith("/versions/2"), answer
    assert answer["latest_version"] == result["version"]
    assert answer["due"] is False

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


def test_serve_commands_give_the_same_outcome_in_another_order(
    served: subprocess.Popen[str],
) -> None:
    """The event first, then the HTTP rotation: each still refreshes its own secret."""
    read_until(served, "press Ctrl-C")
    _, rotate, _, _, scheduled, status = commands("serve")
    # The command's publishTime is in whole seconds, and rotate_event skips an event published
    # before the latest version was created (a redelivery). So not in the second serve seeded
    # in, which no one typing could manage anyway.
    time.sleep(1)
    done = run(scheduled, user_env())
    assert (done.returncode, done.stdout) == (0, "OK"), done.stderr
    done = run(status, user_env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["secrets"][0]["latest_version"].endswith("/versions/2")
    done = run(rotate, user_env())
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    actions = {result["secret"]: result["action"] for result in results}
    assert actions == {SECRET: "refreshed", SCHEDULED_SECRET: "skipped"}


def test_serve_help_is_plain_text_and_names_every_port_option() -> None:
    done = run("./dev.sh serve --help", user_env())
    assert done.returncode == 0, done.stderr
    assert "``" not in done.stdout
    for option in ("--port", "--event-port", "--secret-manager-port", "--momento-port"):
        assert f"{option} N" in done.stdout


@pytest.mark.parametrize(
    ("option", "what"),
    [
        ("--port", "the function's HTTP target rotate"),
        ("--event-port", "the function's CloudEvent target rotate_event"),
        ("--secret-manager-port", "the Secret Manager emulator"),
        ("--momento-port", "the Momento emulator"),
    ],
)
def test_a_port_in_use_is_named_with_the_option_that_moves_it(option: str, what: str) -> None:
    options = ("--port", "--event-port", "--secret-manager-port", "--momento-port")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        ports = {name: held if name == option else free_port() for name in options}
        arguments = " ".join(f"{name} {port}" for name, port in ports.items())
        done = run(f"./dev.sh serve {arguments}", user_env(), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.count("is in use") == 1, done.stderr
    assert (
        f"serve: port {held} ({what}) is in use; stop what listens there, or pick another with "
        f"{option} N" in done.stderr
    )
    assert "starting" not in done.stdout  # nothing was started


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
