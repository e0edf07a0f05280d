"""One rotation run: what every entry point calls, with a typed request.

Secrets are independent, so they are rotated concurrently by a bounded pool of threads; the
results come back in the request's order, and each secret still logs its own line. The budgets
in :mod:`rotation.pacing`, shared by the pool, decide how fast calls go out: workers only hide
the latency of each call, so a fleet finishes in about the time the budget allows rather than
in the sum of its latencies.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotation import logs
from rotation.policy import budget_warning
from rotation.request import RotationRequest

if TYPE_CHECKING:
    from rotation.config import Config
    from rotation.outcomes import SecretResult
    from rotation.runtime import Runtime

# Calls are I/O: a thread mostly waits on Secret Manager, Momento or the budget. One secret's
# critical path is about 6 calls (0.1-0.5 s) plus, for a sweep, the 2 writes/s per-secret limit,
# so 16 workers keep even the project's whole quota (600 writes/min, 10 a second) busy, while
# 16 idle threads cost little memory. More would only queue on the budget.
MAX_WORKERS = 16


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run, as the HTTP response and the CLI print it."""

    dry_run: bool
    results: tuple[SecretResult, ...]

    @property
    def ok(self) -> bool:
        return not any(result.failed for result in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "results": [result.to_json() for result in self.results],
        }


def run(runtime: Runtime, request: RotationRequest, *, workers: int = MAX_WORKERS) -> RunResult:
    """Rotate the request's secrets, at most ``workers`` at a time; never raises for a secret.

    One secret named twice (by project id and by project number) is rotated once.
    """
    rotator = runtime.rotator()

    def rotate(secret: str) -> SecretResult:
        return rotator.rotate(
            secret, force=request.force, dry_run=request.dry_run, named_in=request.named_in
        )

    secrets = runtime.distinct(request.secrets) if len(request.secrets) > 1 else request.secrets
    _warn_if_budget_too_small(runtime.config, len(secrets))
    if workers <= 1 or len(secrets) <= 1:
        results = [rotate(secret) for secret in secrets]
    else:
        # Imported here: a run of one secret (a cold start's usual case) needs no pool.
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        with ThreadPoolExecutor(min(workers, len(secrets)), "rotation") as pool:
            # Each secret runs in a copy of this context: the request's redaction registry and
            # nothing else (a context can't be entered by two threads at once).
            futures = [pool.submit(_in_copied_context(rotate), secret) for secret in secrets]
            results = [future.result() for future in futures]
    return RunResult(request.dry_run, tuple(results))


def _in_copied_context(
    function: Callable[[str], SecretResult],
) -> Callable[[str], SecretResult]:
    context = contextvars.copy_context()
    return lambda secret: context.run(function, secret)


def _warn_if_budget_too_small(config: Config, secrets: int) -> None:
    """Say before the run, not after its timeout, when the budget can't refresh them all."""
    warning = budget_warning(config, secrets)
    if warning is not None:
        logs.warning(
            warning,
            event="rotation.budget_too_small",
            secrets=secrets,
            writes_per_minute=config.writes_per_minute,
        )
