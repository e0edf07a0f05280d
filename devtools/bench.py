"""What a run costs, measured against the local emulators, as ratios within one run.

These machines are noisy, so absolute numbers mean little; each figure is compared with a
baseline measured in the same run:

- **cold start**: a fresh interpreter that imports ``main`` and serves one request, for a key
  that needs nothing (the daily case) and for one that needs a refresh; wall time and peak
  memory, each as a ratio to a bare interpreter that imports nothing;
- **warm requests**: requests per second through one function instance (clients already built),
  skip path against refresh path.

Usage: ``.venv/bin/python -m devtools.bench [--rounds N]``. Nothing here is asserted; the
README quotes the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from devtools.emulators.momento import MomentoEmulator
from devtools.emulators.secret_manager import SecretManagerEmulator

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "bench-project"

# Peak resident memory of this process since exec (ru_maxrss would include the forked parent).
_PEAK_KIB = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
_ONE_REQUEST = """
import json, sys, time
started = time.perf_counter()
import functions_framework
app = functions_framework.create_app(target="rotate", source="main.py")
response = app.test_client().post("/", json={})
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "peak_kib": PEAK_KIB, "status": response.status_code,
                  "momento_imported": "momento" in sys.modules}))
"""
_BARE = """
import json, time
started = time.perf_counter()
print(json.dumps({"seconds": time.perf_counter() - started, "peak_kib": PEAK_KIB}))
""".replace("PEAK_KIB", _PEAK_KIB)


class Bench:
    def __init__(self, secret_manager: SecretManagerEmulator, momento: MomentoEmulator) -> None:
        self.secret_manager = secret_manager
        self.momento = momento
        self.counter = 0

    def secret_with_key(self, expires_in: timedelta) -> str:
        self.counter += 1
        name = f"projects/{PROJECT}/secrets/bench-{self.counter}"
        self.secret_manager.create_secret(name)
        key = self.momento.issue_key(lifetime=timedelta(days=30), expires_in=expires_in)
        self.secret_manager.add_version(name, json.dumps(key.console_json()).encode())
        return name

    def env(self, secret: str) -> dict[str, str]:
        return {
            **os.environ,
            "ROTATION_SECRETS": secret,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "SECRET_MANAGER_EMULATOR_HOST": self.secret_manager.address,
            "MOMENTO_CONTROL_ENDPOINT": self.momento.address,
            "MOMENTO_CONTROL_INSECURE": "true",
        }

    def cold(self, *, refresh: bool) -> dict[str, float]:
        secret = self.secret_with_key(timedelta(days=1 if refresh else 20))
        script = _ONE_REQUEST.replace("PEAK_KIB", _PEAK_KIB)
        return _run_json([sys.executable, "-c", script], self.env(secret))

    def bare(self) -> dict[str, float]:
        return _run_json([sys.executable, "-c", _BARE], dict(os.environ))

    def warm_rate(self, *, refresh: bool, requests: int) -> float:
        """Requests per second through one instance, each for its own secret.

        One secret per request: a burst of runs on one secret refreshes it once, by design.
        """
        import functions_framework  # noqa: PLC0415 - only the warm phase needs it in-process

        expires_in = timedelta(days=1 if refresh else 20)
        secrets = [self.secret_with_key(expires_in) for _ in range(requests + 1)]
        saved = dict(os.environ)
        os.environ.update(self.env(",".join(secrets)))
        try:
            app = functions_framework.create_app(  # type: ignore[no-untyped-call]
                target="rotate", source=str(ROOT / "main.py")
            )
            client = app.test_client()
            expected = "refreshed" if refresh else "skipped"
            with contextlib.redirect_stdout(io.StringIO()):  # the function's own log lines
                client.post("/", json={"secrets": secrets[:1]})  # build the clients first
                started = time.perf_counter()
                for secret in secrets[1:]:
                    body = client.post("/", json={"secrets": [secret]}).get_json()
                    if body["results"][0]["action"] != expected:
                        raise RuntimeError(f"a benchmark request was not {expected}")
                return requests / (time.perf_counter() - started)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _run_json(command: list[str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def _repeat(rounds: int, measure: Callable[[], dict[str, float]]) -> list[dict[str, float]]:
    return [measure() for _ in range(rounds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="cold starts per case")
    parser.add_argument("--requests", type=int, default=40, help="warm requests per case")
    args = parser.parse_args(argv)

    with SecretManagerEmulator() as secret_manager, MomentoEmulator() as momento:
        bench = Bench(secret_manager, momento)
        bare = _repeat(args.rounds, bench.bare)
        skip = _repeat(args.rounds, lambda: bench.cold(refresh=False))
        refresh = _repeat(args.rounds, lambda: bench.cold(refresh=True))
        warm_skip = bench.warm_rate(refresh=False, requests=args.requests)
        warm_refresh = bench.warm_rate(refresh=True, requests=args.requests)

    base_kib = _median(bare, "peak_kib")
    print(f"cold start, median of {args.rounds} (a fresh interpreter serving one request):")
    print(f"  {'case':<22}{'seconds':>9}{'peak MiB':>10}{'MiB over bare':>15}  momento imported")
    for name, samples in (("nothing to refresh", skip), ("refresh", refresh)):
        seconds, kib = _median(samples, "seconds"), _median(samples, "peak_kib")
        imported = any(sample["momento_imported"] for sample in samples)
        print(
            f"  {name:<22}{seconds:>9.3f}{kib / 1024:>10.1f}{(kib - base_kib) / 1024:>15.1f}"
            f"  {'yes' if imported else 'no'}"
        )
    skip_s, refresh_s = _median(skip, "seconds"), _median(refresh, "seconds")
    print(f"  refresh / nothing-to-refresh, time: {refresh_s / skip_s:.2f}x")
    skip_extra = _median(skip, "peak_kib") - base_kib
    refresh_extra = _median(refresh, "peak_kib") - base_kib
    print(
        f"  refresh / nothing-to-refresh, memory over a bare interpreter: "
        f"{refresh_extra / skip_extra:.2f}x"
    )
    print(f"warm, one instance, {args.requests} requests each:")
    print(f"  nothing to refresh: {warm_skip:8.1f} requests/s")
    print(
        f"  refresh:            {warm_refresh:8.1f} requests/s "
        f"({warm_skip / warm_refresh:.1f}x slower: refresh, write, verify, lease)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
