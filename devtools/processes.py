"""Start the emulators and the function as real processes, and stop them cleanly.

Used by the demo (``./dev.sh demo``) and by tests that need the function in its own processes,
as Cloud Functions runs it: functions-framework under gunicorn.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(r"listening on (\S+)")


def start_emulator(
    module: str, *args: str, port: int = 0, timeout: float = 30.0
) -> tuple[subprocess.Popen[str], str]:
    """Run ``python -m module --port PORT ...`` (0: any free port); return the process and the
    address it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if process.stdout is None:  # pragma: no cover - stdout=PIPE always gives one
        raise RuntimeError("no stdout")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = _LISTENING.search(line)
        if match:
            return process, match.group(1)
    stop(process)
    raise RuntimeError(f"{module} did not start (exit code {process.poll()})")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As servers bind: a port whose last connections linger in TIME_WAIT is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_function(
    env: Mapping[str, str],
    *,
    log: IO[str],
    workers: int = 1,
    threads: int = 8,
    timeout: float = 60.0,
    port: int = 0,
    target: str = "rotate",
) -> tuple[subprocess.Popen[str], str]:
    """Serve ``main.<target>`` with functions-framework on ``port`` (0: any free port); return
    the process and its base URL."""
    if port == 0:
        port = free_port()
    elif not port_is_free(port):
        raise RuntimeError(f"port {port} is in use; stop what listens there, or pick another")
    process = subprocess.Popen(
        _function_command(port, target),
        cwd=ROOT,
        env={**os.environ, **env, "WORKERS": str(workers), "THREADS": str(threads)},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, so that kill() takes the gunicorn workers down with it.
        start_new_session=True,
    )
    if wait_for_port(process, port, timeout=timeout):
        return process, f"http://127.0.0.1:{port}/"
    if process.poll() is not None:
        raise RuntimeError(f"functions-framework exited with code {process.returncode}")
    stop(process)
    raise RuntimeError("functions-framework did not start listening in time")


def wait_for_port(process: subprocess.Popen[Any], port: int, *, timeout: float) -> bool:
    """Wait until something listens on 127.0.0.1:``port``. False if ``process`` exits first or
    ``timeout`` passes (``process.poll()`` then says which)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.1)
    return False


def _function_command(port: int, target: str) -> Sequence[str]:
    return [
        sys.executable,
        "-m",
        "functions_framework",
        f"--target={target}",
        "--source=main.py",
        "--host=127.0.0.1",
        f"--port={port}",
    ]


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL a function and its workers at once, as when an instance is torn down mid-call."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def stopping(*processes: subprocess.Popen[str]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            stop(process)
