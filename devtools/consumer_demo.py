"""``python -m devtools.consumer_demo``: an application picks up rotated keys without a restart.

Offline, on the local emulators (both served by this process). It seeds a secret with a
Momento key, starts ``examples/cache_app.py`` as its own process with a short ``max_age``, and
relays what the application prints while the key changes underneath it:

1. the application works with the key from version 1;
2. the function rotates the key with its own code (``python -m rotation --force``, a third
   process); the application uses version 2 from its first call after ``max_age``;
3. an operator replaces the key by hand (version 3) and revokes the old one, so Momento refuses
   the application's next call (an injected UNAUTHENTICATED); the application calls
   ``invalidate()`` and uses version 3 at once, without waiting out ``max_age``.

Last, it checks that no key, refresh token or payload appears in anything the application or
the function printed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import grpc

from devtools.emulators.momento import MomentoEmulator
from devtools.emulators.secret_manager import SecretManagerEmulator
from momento_key_common.token import parse_key

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "demo-project"
SECRET = f"projects/{PROJECT}/secrets/momento-api-key"
MAX_AGE_SECONDS = 4.0
MIN_INTERVAL_SECONDS = 0.5
WAIT_SECONDS = 30.0
# What the child processes inherit from us; the rest of our environment stays out.
_INHERITED = ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")


class App:
    """examples/cache_app.py in its own process; its lines are relayed and can be awaited."""

    def __init__(self, secret_manager: str, momento: str, python: str | None) -> None:
        # With another Python (a venv with the reader's wheel), the script runs by its path
        # from a scratch folder, so nothing of this checkout is importable but what it installed.
        launch = (
            [python, str(ROOT / "examples" / "cache_app.py")]
            if python
            else [
                sys.executable,
                "-m",
                "examples.cache_app",
            ]
        )
        command = [
            *launch,
            "--secret",
            SECRET,
            "--momento-emulator",
            momento,
            "--max-age",
            str(MAX_AGE_SECONDS),
            "--min-interval",
            str(MIN_INTERVAL_SECONDS),
            "--interval",
            "0.2",
            "--duration",
            "120",
        ]
        print(f"demo: starting the app: python {' '.join(command[1:])}", flush=True)
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._scratch = tempfile.TemporaryDirectory(prefix="cache-app-")
        self._process = subprocess.Popen(
            command,
            cwd=self._scratch.name if python else ROOT,
            env=_child_env(SECRET_MANAGER_EMULATOR_HOST=secret_manager),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._relaying = threading.Thread(target=self._relay, daemon=True)
        self._relaying.start()

    def _relay(self) -> None:
        stdout = self._process.stdout
        if stdout is None:  # pragma: no cover - stdout=PIPE always gives one
            return
        for line in stdout:
            self.output.append(line)
            print(f"    {line.rstrip()}", flush=True)
            self._lines.put(line)
        self._lines.put(None)

    def expect(self, text: str) -> float:
        """Wait for a line containing ``text``; return when it came (``time.monotonic``)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"the app did not print {text!r} in time") from None
            if line is None:
                raise RuntimeError(f"the app exited before printing {text!r}")
            if text in line:
                return time.monotonic()

    def stop(self) -> int:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # the app stops and prints its summary
        try:
            code = self._process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self._relaying.join(WAIT_SECONDS)  # let the relay print the app's last lines
        self._scratch.cleanup()
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.consumer_demo")
    parser.add_argument(
        "--python",
        help="run the app with this Python (a venv with momento-key-reader installed) instead "
        "of this checkout's",
    )
    python = parser.parse_args(argv).python
    with SecretManagerEmulator() as secret_manager, MomentoEmulator() as momento:
        print(
            f"demo: Secret Manager emulator on {secret_manager.address}, Momento emulator on "
            f"{momento.address}",
            flush=True,
        )
        issued = momento.issue_key(lifetime=timedelta(days=30), expires_in=timedelta(days=1))
        secret_manager.create_secret(SECRET)
        secret_manager.add_version(SECRET, json.dumps(issued.console_json()).encode())
        print(f"demo: seeded {SECRET} with a key that expires in 1 day (version 1)", flush=True)
        printed: list[str] = []
        app = App(secret_manager.address, momento.address, python)
        try:
            app.expect("list_caches ok with the key from version 1")
            rotated_at = rotate(secret_manager, momento, printed)
            seen_at = app.expect("list_caches ok with the key from version 2")
            print(
                f"demo: the app used version 2 {seen_at - rotated_at:.1f} s after it was stored "
                f"(max_age {MAX_AGE_SECONDS:.0f} s), with no restart",
                flush=True,
            )
            # invalidate() is rate-limited per min_interval since the last read: wait that out.
            time.sleep(2 * MIN_INTERVAL_SECONDS)
            replace_by_hand(secret_manager, momento)
            refused_at = app.expect("authentication error: invalidated the key")
            seen_at = app.expect("list_caches ok with the key from version 3")
            print(
                f"demo: the app used version 3 {seen_at - refused_at:.1f} s after Momento "
                "refused its key",
                flush=True,
            )
        finally:
            code = app.stop()
        leaked = leaks(secret_manager, [*app.output, *printed])
    print(f"demo: the app exited with {code}; leak check: {leaked or 'no key, token or payload'}")
    return 0 if code == 0 and not leaked else 1


def rotate(
    secret_manager: SecretManagerEmulator, momento: MomentoEmulator, out: list[str]
) -> float:
    """One forced rotation by the function's own code, in its own process, as Scheduler would."""
    done = subprocess.run(
        [sys.executable, "-m", "rotation", "--secrets", SECRET, "--force"],
        cwd=ROOT,
        env=_child_env(
            GOOGLE_CLOUD_PROJECT=PROJECT,
            SECRET_MANAGER_EMULATOR_HOST=secret_manager.address,
            MOMENTO_CONTROL_ENDPOINT=momento.address,
            MOMENTO_CONTROL_INSECURE="true",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out.extend((done.stdout, done.stderr))
    if done.returncode != 0:
        raise RuntimeError(f"python -m rotation --force exited with {done.returncode}")
    latest = max(secret_manager.version_states(SECRET))
    print(f"demo: rotated with python -m rotation --force: stored version {latest}", flush=True)
    return time.monotonic()


def replace_by_hand(secret_manager: SecretManagerEmulator, momento: MomentoEmulator) -> None:
    """A new key from the console added as a version, and the old key revoked."""
    issued = momento.issue_key(lifetime=timedelta(days=30))
    number = secret_manager.add_version(SECRET, json.dumps(issued.console_json()).encode())
    # The emulator cannot revoke a key; refusing the next call is what the app would see.
    momento.inject_fault("ListCaches", grpc.StatusCode.UNAUTHENTICATED, times=1)
    version = number.rsplit("/", 1)[1]
    print(
        f"demo: an operator added a new key by hand (version {version}) and revoked the old "
        "one: Momento refuses the app's next call (UNAUTHENTICATED)",
        flush=True,
    )


def leaks(secret_manager: SecretManagerEmulator, output: list[str]) -> str:
    """Which kinds of secret value appear in ``output``; empty when none does."""
    values: dict[str, set[str]] = {"refresh token": set(), "key": set(), "payload": set()}
    for number in secret_manager.version_states(SECRET):
        payload = (secret_manager.payload(SECRET, number) or b"").decode()
        values["payload"].add(payload)
        document = json.loads(payload)
        values["key"] |= {document["apiKey"], parse_key(payload.encode()).jwt}
        values["refresh token"].add(document["refreshToken"])
    text = "".join(output)
    found = [kind for kind, kind_values in values.items() if any(v in text for v in kind_values)]
    return ", ".join(f"a {kind} LEAKED" for kind in found)


def _child_env(**variables: str) -> dict[str, str]:
    inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    return {**inherited, "PYTHONUNBUFFERED": "1", **variables}


if __name__ == "__main__":
    sys.exit(main())
