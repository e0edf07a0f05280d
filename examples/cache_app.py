"""An application that keeps using Momento while its key is rotated underneath it.

It reads its key with :class:`momento_key_reader.KeyReader`, builds a ``momento.CacheClient``
from :meth:`~momento_key_reader.KeyReader.credential_provider`, builds a new client whenever the
reader hands out a new key, and calls :meth:`~momento_key_reader.KeyReader.invalidate` when
Momento answers with an authentication error. Its work is one ``list_caches`` call per
interval: a real application would get and set items the same way.

It needs the reader installed (``pip install './reader[momento]'``). Run it on Google Cloud
(with Application Default Credentials)::

    python examples/cache_app.py --secret momento-api-key --project my-project

or against the local emulators, as ``python -m devtools.consumer_demo`` does::

    SECRET_MANAGER_EMULATOR_HOST=127.0.0.1:8085 python examples/cache_app.py \\
        --secret projects/demo-project/secrets/momento-api-key --momento-emulator 127.0.0.1:PORT

It prints one line whenever what it sees changes, and a summary when stopped (SIGINT, SIGTERM
or ``--duration``). Neither it nor the reader ever prints a key.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from types import FrameType

from momento import CacheClient, Configurations
from momento.auth import CredentialProvider
from momento.errors import MomentoErrorCode
from momento.responses import ListCaches
from momento_key_reader import KeyReader, KeyUnavailableError

DEFAULT_TTL = timedelta(minutes=10)


class Momento:
    """One ``CacheClient`` for the reader's current key, replaced when the key changes.

    A ``CacheClient`` keeps the credential it was built with, so picking up a rotated key means
    building a new client. ``credential_provider()`` returns the same object while the key is
    unchanged, so ``is not`` is the whole check, and it costs no Secret Manager access.
    """

    def __init__(self, reader: KeyReader, *, emulator_address: str | None) -> None:
        self._reader = reader
        self._emulator_address = emulator_address
        self._provider: CredentialProvider | None = None
        self._client: CacheClient | None = None

    def client(self) -> CacheClient:
        provider = self._reader.credential_provider(emulator_address=self._emulator_address)
        if provider is not self._provider or self._client is None:
            if self._client is not None:
                _close(self._client)  # its channels; calls in flight on other threads finish
            self._client = CacheClient.create(Configurations.Laptop.latest(), provider, DEFAULT_TTL)
            self._provider = provider
        return self._client

    def close(self) -> None:
        if self._client is not None:
            _close(self._client)


def _close(client: CacheClient) -> None:
    # CacheClient has no close(): leaving its context is how it closes its channels.
    client.__exit__(None, None, None)


class Report:
    """Prints a line only when what the application sees changes; counts everything."""

    def __init__(self) -> None:
        self.calls = 0
        self.outcomes: dict[str, int] = {}
        self.versions: list[str] = []
        self._last = ""

    def saw(self, outcome: str, line: str, version: str | None = None) -> None:
        self.calls += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if version is not None and version not in self.versions:
            self.versions.append(version)
        if line != self._last:
            print(f"app: {line}", flush=True)
            self._last = line

    def summary(self, seconds: float) -> str:
        outcomes = ", ".join(f"{outcome}: {count}" for outcome, count in self.outcomes.items())
        versions = ", ".join(self.versions) or "none"
        return (
            f"app: {self.calls} calls in {seconds:.1f} s ({outcomes}); keys from versions "
            f"{versions}; no restart"
        )


def call_once(reader: KeyReader, momento: Momento, report: Report) -> None:
    """One unit of the application's work, and what to do when Momento refuses the key."""
    try:
        client = momento.client()
    except KeyUnavailableError as error:
        report.saw("no key", f"no key: {error}")  # the message never holds the key
        return
    response = client.list_caches()
    if isinstance(response, ListCaches.Success):
        version = reader.version.rsplit("/", 1)[1]
        report.saw("ok", f"list_caches ok with the key from version {version}", version)
    elif (
        isinstance(response, ListCaches.Error)
        and response.error_code is MomentoErrorCode.AUTHENTICATION_ERROR
    ):
        # A revoked or replaced key: re-read now instead of waiting out max_age. The reader
        # rate-limits this, so a burst of such errors costs one Secret Manager access.
        if reader.invalidate():
            report.saw("authentication error", "authentication error: invalidated the key")
        else:
            report.saw("authentication error", "authentication error: re-read just now; waiting")
    elif isinstance(response, ListCaches.Error):
        report.saw("errors", f"list_caches failed: {response.error_code.name}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The reader logs to the "momento_key_reader" logger; show its INFO lines with ours.
    logging.basicConfig(
        stream=sys.stdout, level=logging.WARNING, format="app log: %(levelname)s %(message)s"
    )
    logging.getLogger("momento_key_reader").setLevel(logging.INFO)
    # The reader finds SECRET_MANAGER_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT itself, as the
    # function does.
    reader = KeyReader(
        args.secret,
        project=args.project,
        max_age=timedelta(seconds=args.max_age),
        min_interval=timedelta(seconds=args.min_interval),
    )
    momento = Momento(reader, emulator_address=args.momento_emulator)
    report = Report()
    stopping = _stop_on_signal()
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.duration and not stopping.is_set():
            call_once(reader, momento, report)
            stopping.wait(args.interval)
    finally:
        momento.close()
        reader.close()
    print(report.summary(time.monotonic() - started), flush=True)
    return 0


def _stop_on_signal() -> threading.Event:
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return stopping


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m examples.cache_app",
        description="Use Momento with a key read from Secret Manager, across rotations.",
    )
    parser.add_argument("--secret", required=True, help="projects/P/secrets/S, or S with --project")
    parser.add_argument("--project", help="resolves a short secret name")
    parser.add_argument("--max-age", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument("--min-interval", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between calls")
    parser.add_argument("--duration", type=float, default=float("inf"), help="seconds to run")
    parser.add_argument(
        "--momento-emulator", metavar="HOST:PORT", help="plaintext Momento emulator (local only)"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
