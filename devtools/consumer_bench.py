"""``python -m devtools.consumer_bench``: Secret Manager accesses per hour, for one process.

Counts, not timings. A simulated clock drives one hour of calls, 50 a second, through the real
:class:`momento_key_reader.KeyReader` over an in-memory client that counts accesses. Each
scenario is compared with reading the secret on every call. The run is deterministic, so it
prints the same numbers on every machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions
from momento_key_reader import DEFAULT_MARGIN, DEFAULT_MAX_AGE, KeyReader

from devtools.emulators.momento import sign_jwt, wrap_v1
from momento_key_common.token import parse_key

SECRET = "projects/bench-project/secrets/momento-api-key"
START = 1_900_000_000.0
HOUR = 3600
MINUTE = 60
QUOTA_PER_MINUTE = 90_000  # Secret Manager's access quota per project (documented)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class CountingClient:
    """``access_secret_version`` over an in-memory list of versions, counting every access."""

    def __init__(self, payload: bytes) -> None:
        self.versions = [payload]
        self.accesses = 0
        self.down = False

    def access_secret_version(self, *, name: str, retry: object, timeout: float) -> Any:
        self.accesses += 1
        if self.down:
            raise exceptions.ServiceUnavailable("down")  # type: ignore[no-untyped-call]
        return _Response(f"{SECRET}/versions/{len(self.versions)}", _Payload(self.versions[-1]))


@dataclass(frozen=True)
class _Payload:
    data: bytes
    data_crc32c: int | None = None


@dataclass(frozen=True)
class _Response:
    name: str
    payload: _Payload


def document(expires_at: float) -> bytes:
    jwt = sign_jwt(b"bench", {"sub": secrets.token_hex(4), "exp": int(expires_at)})
    return json.dumps({"apiKey": wrap_v1("bench.example", jwt), "refreshToken": "r"}).encode()


@dataclass(frozen=True)
class Scenario:
    name: str
    # Called before each call with (seconds into the hour, client, reader); returns whether
    # the application invalidates before this call (Momento refused the key).
    events: Callable[[float, CountingClient, KeyReader], bool]
    key_lifetime: float = 30 * 24 * HOUR


def _steady(_t: float, _client: CountingClient, _reader: KeyReader) -> bool:
    return False


def _rotation_at_20_minutes(t: float, client: CountingClient, _reader: KeyReader) -> bool:
    if t == 20 * MINUTE:
        client.versions.append(document(START + 31 * 24 * HOUR))
    return False


def _refused_for_a_minute(t: float, _client: CountingClient, _reader: KeyReader) -> bool:
    return 30 * MINUTE <= t < 31 * MINUTE


def _down_for_10_minutes(t: float, client: CountingClient, _reader: KeyReader) -> bool:
    client.down = 30 * MINUTE <= t < 40 * MINUTE
    return False


SCENARIOS = (
    Scenario("KeyReader, default policy", _steady),
    Scenario("  + the function rotates the key at 20:00", _rotation_at_20_minutes),
    Scenario("  + Momento refuses every call for a minute", _refused_for_a_minute),  # invalidate()
    Scenario("  + Secret Manager is down for 10 minutes", _down_for_10_minutes),
    # Rotation broken: the key is inside the margin all hour and expires at its end.
    Scenario("  + the key expires in 1 h, never rotated", _steady, key_lifetime=HOUR),
)


def run(scenario: Scenario, calls_per_second: int) -> int:
    """Accesses made by one process over the hour."""
    clock = Clock()
    client = CountingClient(document(START + scenario.key_lifetime))
    reader = KeyReader(SECRET, client=client, clock=clock, sleep=clock.sleep)
    for call in range(HOUR * calls_per_second):
        t = call / calls_per_second
        clock.now = START + t
        if scenario.events(t, client, reader):
            reader.invalidate()
        reader.api_key()
    return client.accesses


def run_naive(calls_per_second: int) -> int:
    """Reading versions/latest on every call, as an application without a cache would."""
    client = CountingClient(document(START + 30 * 24 * HOUR))
    for _ in range(HOUR * calls_per_second):
        response = client.access_secret_version(
            name=f"{SECRET}/versions/latest", retry=None, timeout=10
        )
        parse_key(response.payload.data)
    return client.accesses


def report(calls_per_second: int) -> list[str]:
    naive = run_naive(calls_per_second)
    rows = [("read versions/latest on every call", naive)]
    rows += [(scenario.name, run(scenario, calls_per_second)) for scenario in SCENARIOS]
    default = rows[1][1]
    calls = HOUR * calls_per_second
    lines = [
        f"one process, {calls_per_second} calls/s for a simulated hour ({calls:,} calls); "
        f"max_age {_minutes(DEFAULT_MAX_AGE.total_seconds())}, "
        f"margin {_minutes(DEFAULT_MARGIN.total_seconds())}:",
        f"  {'scenario':<44} {'accesses/hour':>13}",
    ]
    lines += [f"  {name:<44} {count:>13,}" for name, count in rows]
    per_minute = naive // 60
    lines += [
        f"reading on every call: {naive // default:,}x the accesses of the default policy, "
        f"{per_minute:,} a minute;",
        f"{QUOTA_PER_MINUTE // per_minute} such processes use up the project's access quota "
        f"({QUOTA_PER_MINUTE:,} a minute)",
    ]
    return lines


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}m"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.consumer_bench", description=__doc__)
    parser.add_argument("--calls-per-second", type=int, default=50)
    args = parser.parse_args(argv)
    # The outage scenario logs a warning per failed read; the counts are what this reports.
    logging.getLogger("momento_key_reader").setLevel(logging.CRITICAL)
    print("\n".join(report(args.calls_per_second)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
