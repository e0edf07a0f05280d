"""What a run costs, against the local emulators: calls, pacing, concurrency, cold start, memory.

One command measures every figure the README quotes, each against a baseline measured in the
same run (these machines are noisy, so only ratios within a run mean much):

- **calls per path**: what each path sends to Secret Manager, by quota kind (access; read =
  get/list; write = add/update/disable), and to Momento. Counted by the emulators, so every
  attempt counts. Deterministic: the smoke mode in the test suite asserts them exactly.
- **a fleet of due secrets** with every emulator call delayed by ``--latency`` (25 ms): one at
  a time (the baseline) against the default concurrency, under the default budgets; and again
  under a write budget the fleet exceeds, against the budget-bound minimum. A sliding 60 s
  window lets ``budget`` writes go at once, so with ``W`` writes the last one cannot go out
  before ``60 s x floor((W - 1) / budget)``; "writes / budget" (the even pace a token bucket
  would keep) is shown beside it. Pacing is checked on what the emulator received: writes and
  reads in any 60 s window, and writes to one secret in any second.
- **a sweep backlog**: one secret with hundreds of superseded versions, swept by back-to-back
  runs until none is left, at a given write budget: how many runs, whether every answer was 2xx
  with no ERROR line, and the writes per minute the sweep achieved against its budget.
- **memory**: the peak resident memory of the process that rotated the fleet.
- **cold start**: a fresh process serving one request with nothing to refresh, against a bare
  process that only imports functions-framework and the Secret Manager client; paired (each
  pair runs back to back, in alternating order) and compared by the median of the pairs' ratios.
  The emulators answer these at once (no latency): this compares what the processes do.

Usage: ``.venv/bin/python -m devtools.bench [--latency MS] [--fleet N] [--rounds N]``; writes
``results.json`` (``--output``). ``--smoke`` is the short form the test suite runs.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.emulators.momento import MomentoEmulator
from devtools.emulators.secret_manager import SecretManagerEmulator
from rotation.adapters.pacing import RPC_KINDS, QuotaKind
from rotation.service import MAX_WORKERS

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "bench-project"
DAY = timedelta(days=1)
SWEEP_K = 4
# Arrival times at the emulator differ from send times by the transit; allow this much.
JITTER = 0.005

# Peak resident memory of this process since exec (ru_maxrss would include the forked parent).
_PEAK_KIB = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
_BARE = """
import functions_framework
from google.cloud import secretmanager
import json
print(json.dumps({"peak_kib": PEAK_KIB}))
"""
# One request the way gunicorn hands it over: a WSGI call. (Flask's test client would import
# click.testing and with it pdb, which no deployed instance loads.)
_ONE_REQUEST = """
import io
import functions_framework
app = functions_framework.create_app(target="rotate", source="main.py")
environ = {
    "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "localhost",
    "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json",
    "CONTENT_LENGTH": "2", "wsgi.input": io.BytesIO(b"{}"), "wsgi.url_scheme": "http",
    "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
    "wsgi.run_once": False, "wsgi.version": (1, 0),
}
statuses = []
body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
import json, sys
print(json.dumps({"peak_kib": PEAK_KIB, "status": int(statuses[0].split()[0]),
                  "momento_imported": "momento" in sys.modules}))
"""
_FLEET = """
import collections, contextlib, json, os, sys, time
from momento_key_common import redact
from rotation import service
from rotation.rules.config import load_config
from rotation.service import RotationRequest
from rotation.service.runtime import Runtime
config = load_config(os.environ)
request = RotationRequest(config.secrets, force=False, dry_run=False)
with open(os.devnull, "w") as logs, contextlib.redirect_stdout(logs), redact.request_scope():
    started = time.perf_counter()
    outcome = service.run(Runtime(config).dependencies(), request, workers=int(sys.argv[1]))
    seconds = time.perf_counter() - started
actions = collections.Counter(str(result.action) for result in outcome.results)
print(json.dumps({"seconds": seconds, "peak_kib": PEAK_KIB, "actions": actions}))
"""


class Bench:
    def __init__(self, secret_manager: SecretManagerEmulator, momento: MomentoEmulator) -> None:
        self.secret_manager = secret_manager
        self.momento = momento
        self.counter = 0
        # The most adds and updates one request of calls() sent its secret in any second, and
        # the most state changes to one version (Secret Manager's limits by their scope).
        self.most_in_1s = {"per_secret": 0, "per_version": 0}

    def secret(self, *, expires_in: timedelta, old_versions: int = 0) -> str:
        """A secret whose latest key expires in ``expires_in``, after ``old_versions`` versions
        superseded long enough ago (20+ days, RETENTION is 7 days) for the sweep to disable."""
        self.counter += 1
        name = f"projects/{PROJECT}/secrets/bench-{self.counter}"
        self.secret_manager.create_secret(name)
        now = datetime.now(UTC)
        for age in range(old_versions, 0, -1):
            key = self.momento.issue_key(expires_in=20 * DAY)
            self.secret_manager.add_version(
                name, _json(key.console_json()), create_time=now - (20 + age) * DAY
            )
        key = self.momento.issue_key(expires_in=expires_in)
        self.secret_manager.add_version(name, _json(key.console_json()), create_time=now - 20 * DAY)
        return name

    def env(self, secrets: Iterable[str], **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "ROTATION_SECRETS": ",".join(secrets),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "SECRET_MANAGER_EMULATOR_HOST": self.secret_manager.address,
            "MOMENTO_CONTROL_ENDPOINT": self.momento.address,
            "MOMENTO_CONTROL_INSECURE": "true",
            # As deploy.sh deploys it: every run also works out when the next one comes.
            "ROTATION_SCHEDULE": "0 */6 * * *",
            **extra,
        }

    def set_latency(self, seconds: float) -> None:
        self.secret_manager.latency = seconds
        self.momento.latency = seconds

    def mark(self) -> tuple[int, int]:
        return len(self.secret_manager.received), len(self.momento.received)

    def since(self, mark: tuple[int, int]) -> tuple[list[Any], list[Any]]:
        return (
            list(self.secret_manager.received)[mark[0] :],
            list(self.momento.received)[mark[1] :],
        )

    # -- calls per path ------------------------------------------------------------------

    def request(
        self, secret: str, body: dict[str, Any], **env: str
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        """One request for ``secret`` through the function's app: status, answer, log lines."""
        import functions_framework  # noqa: PLC0415 - only these phases need it in-process

        saved = dict(os.environ)
        os.environ.update(self.env([secret], **env))
        logs = io.StringIO()
        try:
            app = functions_framework.create_app(  # type: ignore[no-untyped-call]
                target="rotate", source=str(ROOT / "main.py")
            )
            with contextlib.redirect_stdout(logs):  # the function's own log lines
                response = app.test_client().post("/", json=body)
        finally:
            # functions-framework loaded main.py as the module "main": close its clients before
            # the emulators stop, or gRPC logs each server's GOAWAY on the way out.
            sys.modules["main"]._runtime.close()
            os.environ.clear()
            os.environ.update(saved)
        lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
        return response.status_code, response.get_json(), lines

    def calls(self, secret: str, body: dict[str, Any], expected: str) -> dict[str, int]:
        """What one request for ``secret`` sends, by quota kind, through the function's app."""
        mark = self.mark()
        _, answer, _ = self.request(secret, body)
        if answer["results"][0]["action"] != expected:
            raise RuntimeError(f"a benchmark request was not {expected}: {answer}")
        secret_manager, momento = self.since(mark)
        kinds = Counter(str(RPC_KINDS[method]) for _, method, _ in secret_manager)
        self.most_in_1s = _most_by_scope(secret_manager, self.most_in_1s)
        return {
            **{str(kind): kinds.get(str(kind), 0) for kind in QuotaKind},
            "momento": len(momento),
        }

    def call_counts(self) -> dict[str, dict[str, int]]:
        skip = self.secret(expires_in=20 * DAY)
        skip_sweep = self.secret(expires_in=20 * DAY, old_versions=SWEEP_K)
        refresh = self.secret(expires_in=DAY)
        refresh_sweep = self.secret(expires_in=DAY, old_versions=SWEEP_K)
        return {
            "skip": self.calls(skip, {}, "skipped"),
            f"skip + sweep of {SWEEP_K}": self.calls(skip_sweep, {}, "skipped"),
            "refresh": self.calls(refresh, {}, "refreshed"),
            f"refresh + sweep of {SWEEP_K}": self.calls(refresh_sweep, {}, "refreshed"),
            # The same key forced again at once: the lease, superseded moments ago, says so.
            "forced again at once": self.calls(refresh, {"force": True}, "skipped"),
        }

    # -- fleets --------------------------------------------------------------------------

    def fleet(self, size: int, *, workers: int, **env: str) -> dict[str, Any]:
        secrets = [self.secret(expires_in=DAY) for _ in range(size)]
        mark = self.mark()
        started = time.monotonic()
        script = _FLEET.replace("PEAK_KIB", _PEAK_KIB)
        sample = _run_json([sys.executable, "-c", script, str(workers)], self.env(secrets, **env))
        received, _ = self.since(mark)
        if sample["actions"] != {"refreshed": size}:
            raise RuntimeError(f"a fleet run did not refresh every secret: {sample['actions']}")
        writes = [t for t, method, _ in received if RPC_KINDS[method] is QuotaKind.WRITE]
        reads = [t for t, method, _ in received if RPC_KINDS[method] is QuotaKind.READ]
        by_secret: dict[str, list[float]] = {}
        for t, method, name in received:
            if RPC_KINDS[method] is QuotaKind.WRITE:
                by_secret.setdefault(_secret_id(name), []).append(t)
        return {
            "secrets": size,
            "workers": workers,
            "seconds": round(sample["seconds"], 3),
            "process_seconds": round(time.monotonic() - started, 3),
            "peak_mib": round(sample["peak_kib"] / 1024, 1),
            "writes": len(writes),
            "reads": len(reads),
            "most_writes_in_60s": _most_in_window(writes, 60.0),
            "most_reads_in_60s": _most_in_window(reads, 60.0),
            "most_writes_to_one_secret_in_1s": max(
                _most_in_window(times, 1.0) for times in by_secret.values()
            ),
        }

    # -- a sweep backlog -----------------------------------------------------------------

    def backlog(self, versions: int, writes_per_minute: int) -> dict[str, Any]:
        """Back-to-back runs over one secret with ``versions`` superseded versions, until the
        sweep has disabled them all."""
        secret = self.secret(expires_in=20 * DAY, old_versions=versions)
        mark = self.mark()
        started = time.monotonic()
        statuses: list[int] = []
        errors = 0
        while len(statuses) < 50:
            status, answer, lines = self.request(
                secret, {}, SECRET_MANAGER_WRITES_PER_MINUTE=str(writes_per_minute)
            )
            statuses.append(status)
            errors += sum(1 for line in lines if line.get("severity") in ("ERROR", "CRITICAL"))
            (result,) = answer["results"]
            if result["attention"] is None:
                break  # nothing left: the sweep finished within this run
        seconds = time.monotonic() - started
        received, _ = self.since(mark)
        writes = sorted(t for t, method, _ in received if RPC_KINDS[method] is QuotaKind.WRITE)
        span = writes[-1] - writes[0] if len(writes) > 1 else 0.0
        left = sum(
            state == "ENABLED" for state in self.secret_manager.version_states(secret).values()
        )
        return {
            "versions": versions,
            "budget": writes_per_minute,
            "runs": len(statuses),
            "statuses": sorted(set(statuses)),
            "error_lines": errors,
            "enabled_left": left,
            "writes": len(writes),
            "seconds": round(seconds, 2),
            # Over the time the disables took, first to last, across every run.
            "writes_per_minute": round(60.0 * (len(writes) - 1) / span, 1) if span else None,
            "most_writes_in_60s": _most_in_window(writes, 60.0),
        }

    # -- cold start ----------------------------------------------------------------------

    def cold_pairs(self, rounds: int) -> dict[str, Any]:
        secret = self.secret(expires_in=20 * DAY)
        env = self.env([secret])
        bare_cmd = [sys.executable, "-c", _BARE.replace("PEAK_KIB", _PEAK_KIB)]
        skip_cmd = [sys.executable, "-c", _ONE_REQUEST.replace("PEAK_KIB", _PEAK_KIB)]
        # Both processes load compiled bytecode, as a deployed instance does: the libraries have
        # theirs from pip, and ours is compiled here (with PYTHONDONTWRITEBYTECODE set, as in
        # some shells, every run would otherwise compile rotation/ from source).
        compileall.compile_dir(ROOT / "rotation", quiet=1)
        compileall.compile_file(ROOT / "main.py", quiet=1)
        _timed(skip_cmd, env)  # warm the file cache and the emulator's first connection
        ratios, cpu_ratios, bare_s, skip_s, bare_kib, skip_kib = [], [], [], [], [], []
        momento = False
        for index in range(rounds):
            order = [("bare", bare_cmd), ("skip", skip_cmd)]
            if index % 2:
                order.reverse()
            timed = {name: _timed(command, env) for name, command in order}
            (b_seconds, b_sample), (s_seconds, s_sample) = timed["bare"], timed["skip"]
            if s_sample["status"] != 200:
                raise RuntimeError("the cold-start request failed")
            ratios.append(s_seconds / b_seconds)
            cpu_ratios.append(s_sample["cpu"] / b_sample["cpu"])
            bare_s.append(b_seconds)
            skip_s.append(s_seconds)
            bare_kib.append(b_sample["peak_kib"])
            skip_kib.append(s_sample["peak_kib"])
            momento = momento or bool(s_sample["momento_imported"])
        return {
            "pairs": rounds,
            "bare_seconds": round(statistics.median(bare_s), 3),
            "skip_seconds": round(statistics.median(skip_s), 3),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3),
            "cpu_ratio": round(statistics.median(cpu_ratios), 3),
            # Interference from other work only ever adds time: the fastest of each is the
            # closest either gets to its own cost (timeit's reasoning).
            "fastest_ratio": round(min(skip_s) / min(bare_s), 3),
            "bare_peak_mib": round(statistics.median(bare_kib) / 1024, 1),
            "skip_peak_mib": round(statistics.median(skip_kib) / 1024, 1),
            "momento_imported_on_skip": momento,
        }


def _json(document: dict[str, object]) -> bytes:
    return json.dumps(document).encode()


def _run_json(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=600
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Wall seconds of the whole process; its CPU seconds (user + system) go into the sample."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    sample = _run_json(command, env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sample["cpu"] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, sample


def _secret_id(resource: str) -> str:
    """A secret's id: requests name its project by id, versions returned by number."""
    return resource.split("/")[3]


_STATE_CHANGES = ("EnableSecretVersion", "DisableSecretVersion", "DestroySecretVersion")


def _most_by_scope(received: list[Any], most: dict[str, int]) -> dict[str, int]:
    """``most`` raised to what ``received`` holds: adds and updates to one secret, and state
    changes to one version, in any second."""
    per_secret: dict[str, list[float]] = {}
    per_version: dict[str, list[float]] = {}
    for moment, method, name in received:
        if method in ("AddSecretVersion", "UpdateSecret"):
            per_secret.setdefault(_secret_id(name), []).append(moment)
        elif method in _STATE_CHANGES:
            per_version.setdefault(f"{_secret_id(name)}/{name.rsplit('/', 1)[1]}", []).append(
                moment
            )
    return {
        "per_secret": max(
            [most["per_secret"], *(_most_in_window(t, 1.0) for t in per_secret.values())]
        ),
        "per_version": max(
            [most["per_version"], *(_most_in_window(t, 1.0) for t in per_version.values())]
        ),
    }


def _most_in_window(times: list[float], window: float) -> int:
    """The most arrivals in any window of ``window`` seconds (less the transit jitter)."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= window - JITTER:
            first += 1
        most = max(most, last - first + 1)
    return most


def budget_bound_seconds(calls: int, budget: int) -> float:
    """The earliest the last of ``calls`` can go out under a sliding 60 s window of ``budget``."""
    return 60.0 * ((calls - 1) // budget) if calls else 0.0


def goals(results: dict[str, Any]) -> list[tuple[str, bool]]:
    """Each goal of issue #9 with whether this run met it."""
    counts = results["calls"]
    refresh = counts["refresh"]
    most = results["calls_most_in_1s"]
    checks = [
        (
            "a refresh sends at most 2 writes, no read or access twice",
            refresh["write"] <= 2 and refresh["read"] <= 2 and refresh["access"] <= 1,
        ),
        (
            "each path sends at most 2 adds and updates to its secret, and 1 state change to "
            "one version, in any second",
            most["per_secret"] <= 2 and most["per_version"] <= 1,
        ),
    ]
    for backlog in results.get("backlogs", []):
        rate = backlog["writes_per_minute"] or 0.0
        checks.append(
            (
                f"backlog of {backlog['versions']} at {backlog['budget']}/min: cleared, every "
                "answer 2xx, no ERROR line",
                backlog["enabled_left"] == 1
                and backlog["statuses"] == [200]
                and backlog["error_lines"] == 0,
            )
        )
        checks.append(
            (
                f"backlog of {backlog['versions']} at {backlog['budget']}/min: writes per minute "
                "within 1.2x of the budget, and never more than it in any 60 s",
                backlog["budget"] / 1.2 <= rate <= backlog["budget"] * 1.2
                and backlog["most_writes_in_60s"] <= backlog["budget"],
            )
        )
    backlogs = {(b["versions"], b["budget"]): b for b in results.get("backlogs", [])}
    target = backlogs.get((300, 600))
    if target is not None:
        checks.append(("backlog of 300 at 600/min: cleared in at most 4 runs", target["runs"] <= 4))
    for name, fleet in results["fleets"].items():
        budget = fleet["budget"]
        checks.append(
            (
                f"{name}: at most {budget['writes']} writes and {budget['reads']} reads in any "
                "60 s, at most 2 writes to one secret in any second",
                fleet["most_writes_in_60s"] <= budget["writes"]
                and fleet["most_reads_in_60s"] <= budget["reads"]
                and fleet["most_writes_to_one_secret_in_1s"] <= 2,
            )
        )
        checks.append((f"{name}: peak memory under 128 MiB", fleet["peak_mib"] < 128))
    concurrent = results["fleets"].get("concurrent")
    if concurrent is not None and "speedup" in concurrent:
        checks.append(
            ("concurrent: at least 5x faster than one at a time", concurrent["speedup"] >= 5)
        )
    bound = results["fleets"].get("budget-bound")
    if bound is not None:
        checks.append(
            ("budget-bound: within 1.2x of the budget-bound minimum", bound["vs_minimum"] <= 1.2)
        )
    cold = results["cold_start"]
    # Judged on the fastest run of each process: on a shared machine the median of the pairs
    # rises with other work (the request waits on the emulator while it runs), so it is shown
    # beside it but would measure the neighbours as much as the function.
    checks.append(
        (
            "cold start of the skip path at most 1.10x the bare process (fastest of each)",
            cold["fastest_ratio"] <= 1.10,
        )
    )

    checks.append(("the skip path never imports Momento", not cold["momento_imported_on_skip"]))
    return checks


def report(results: dict[str, Any]) -> str:
    lines = ["calls per path (Secret Manager by quota kind; Momento):"]
    lines.append(f"  {'path':<24}{'access':>7}{'read':>6}{'write':>7}{'momento':>9}")
    for path, counts in results["calls"].items():
        lines.append(
            f"  {path:<24}{counts['access']:>7}{counts['read']:>6}{counts['write']:>7}"
            f"{counts['momento']:>9}"
        )
    latency = results["latency_ms"]
    lines.append(f"fleets of due secrets, {latency} ms per emulator call:")
    lines.append(
        f"  {'run':<14}{'secrets':>8}{'workers':>8}{'seconds':>9}{'peak MiB':>9}"
        f"{'writes':>7}{'max/60s':>8}{'max/s/secret':>13}"
    )
    for name, fleet in results["fleets"].items():
        lines.append(
            f"  {name:<14}{fleet['secrets']:>8}{fleet['workers']:>8}{fleet['seconds']:>9.2f}"
            f"{fleet['peak_mib']:>9.1f}{fleet['writes']:>7}"
            f"{str(fleet['most_writes_in_60s']) + '/' + str(fleet['budget']['writes']):>8}"
            f"{fleet['most_writes_to_one_secret_in_1s']:>13}"
        )
    concurrent = results["fleets"].get("concurrent")
    if concurrent is not None and "speedup" in concurrent:
        lines.append(f"  concurrent / one at a time: {concurrent['speedup']:.1f}x faster")
    bound = results["fleets"].get("budget-bound")
    if bound is not None:
        lines.append(
            f"  budget-bound: {bound['writes']} writes, budget {bound['budget']['writes']}/min: "
            f"minimum {bound['minimum_seconds']:.0f} s (writes / budget: "
            f"{bound['writes_over_budget_seconds']:.0f} s); took {bound['vs_minimum']:.2f}x "
            "the minimum"
        )
    if results.get("backlogs"):
        lines.append(f"sweep backlogs, back-to-back runs, {latency} ms per emulator call:")
        lines.append(
            f"  {'versions':>8}{'budget/min':>11}{'runs':>5}{'statuses':>9}{'ERROR lines':>12}"
            f"{'seconds':>8}{'writes/min':>11}{'max/60s':>8}"
        )
        for backlog in results["backlogs"]:
            statuses = ",".join(str(status) for status in backlog["statuses"])
            lines.append(
                f"  {backlog['versions']:>8}{backlog['budget']:>11}{backlog['runs']:>5}"
                f"{statuses:>9}{backlog['error_lines']:>12}{backlog['seconds']:>8.1f}"
                f"{backlog['writes_per_minute'] or 0:>11.0f}{backlog['most_writes_in_60s']:>8}"
            )
    cold = results["cold_start"]
    lines.append(f"cold start, {cold['pairs']} pairs of whole processes (median):")
    lines.append(
        f"  bare (functions-framework + Secret Manager client imported): "
        f"{cold['bare_seconds']:.3f} s, {cold['bare_peak_mib']:.1f} MiB"
    )
    lines.append(
        f"  one request, nothing to refresh:                            "
        f"{cold['skip_seconds']:.3f} s, {cold['skip_peak_mib']:.1f} MiB"
    )
    lines.append(
        f"  ratio, median of the pairs: {cold['ratio']:.2f}x (pairs ranged {cold['ratio_min']:.2f}-"
        f"{cold['ratio_max']:.2f}x)"
    )
    lines.append(
        f"  ratio, fastest of each: {cold['fastest_ratio']:.2f}x; CPU time, median of the pairs: "
        f"{cold['cpu_ratio']:.2f}x; Momento imported: "
        f"{'yes' if cold['momento_imported_on_skip'] else 'no'}"
    )
    lines.append("goals:")
    lines.extend(f"  [{'met' if met else 'NOT MET'}] {goal}" for goal, met in results["goals"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=25.0, help="ms per emulator call")
    parser.add_argument("--fleet", type=int, default=100, help="due secrets per fleet run")
    parser.add_argument("--rounds", type=int, default=20, help="cold-start pairs")
    parser.add_argument(
        "--bound-writes",
        type=int,
        default=100,
        help="the write budget of the budget-bound fleet run (below its 2 writes per secret)",
    )
    parser.add_argument("--output", type=Path, default=Path("results.json"))
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="short: call counts, a 5-secret fleet, one cold-start pair, no budget-bound run",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.fleet, args.rounds = 5, 1

    default_budget = {"reads": 300, "writes": 300}
    results: dict[str, Any] = {"latency_ms": args.latency, "fleets": {}}
    with SecretManagerEmulator() as secret_manager, MomentoEmulator() as momento:
        bench = Bench(secret_manager, momento)
        results["calls"] = bench.call_counts()
        results["calls_most_in_1s"] = bench.most_in_1s
        bench.set_latency(args.latency / 1000)
        cases = [(30, 600)] if args.smoke else [(300, 600), (300, 300)]
        results["backlogs"] = [bench.backlog(versions, budget) for versions, budget in cases]
        fleets = results["fleets"]
        if not args.smoke:
            fleets["one at a time"] = {
                **bench.fleet(args.fleet, workers=1),
                "budget": default_budget,
            }
        fleets["concurrent"] = {
            **bench.fleet(args.fleet, workers=MAX_WORKERS),
            "budget": default_budget,
        }
        if not args.smoke:
            fleets["concurrent"]["speedup"] = round(
                fleets["one at a time"]["seconds"] / fleets["concurrent"]["seconds"], 1
            )
            budget = {"reads": 300, "writes": args.bound_writes}
            bound = bench.fleet(
                args.fleet,
                workers=MAX_WORKERS,
                SECRET_MANAGER_WRITES_PER_MINUTE=str(args.bound_writes),
            )
            minimum = budget_bound_seconds(bound["writes"], args.bound_writes)
            fleets["budget-bound"] = {
                **bound,
                "budget": budget,
                "minimum_seconds": minimum,
                "writes_over_budget_seconds": round(60.0 * bound["writes"] / args.bound_writes, 1),
                "vs_minimum": round(bound["seconds"] / minimum, 3) if minimum else None,
            }
        bench.set_latency(0.0)
        results["cold_start"] = bench.cold_pairs(args.rounds)
    results["goals"] = goals(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"(written to {args.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
