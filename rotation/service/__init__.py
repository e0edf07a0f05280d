"""The service: one rotation run, the single road from every face to the work.

Every face (HTTP, the CloudEvent of a notification, the command line, ``seed``'s refresh)
builds a :class:`RotationRequest` and calls :func:`run` with the :class:`Dependencies` its
instance built once. What differs between faces (which secrets, forced or not, dry run, how the
outcome becomes a status code) is in the request, or in how the face reads the result.

Secrets are independent, so they are rotated concurrently by a bounded pool of threads; the
results come back in the request's order, and each secret still logs its own line. The budgets
in :mod:`rotation.adapters.pacing`, shared by the pool, decide how fast calls go out: workers
only hide the latency of each call, so a fleet finishes in about the time the budget allows
rather than in the sum of its latencies.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from momento_key_common.errors import ErrorCode, RequestError
from rotation.adapters import logs
from rotation.rules.identity import ProjectNumbers, configured_for, distinct_secrets
from rotation.rules.policy import budget_warning

if TYPE_CHECKING:
    from rotation.adapters.pacing import Pacer
    from rotation.rules.config import Config
    from rotation.rules.outcomes import SecretResult
    from rotation.rules.ports import KeyRefresher, SecretStore
    from rotation.service.rotate import Rotator

# Calls are I/O: a thread mostly waits on Secret Manager, Momento or the budget. One secret's
# critical path is about 6 calls (0.1-0.5 s) plus, for a sweep, the 2 writes/s per-secret limit,
# so 16 workers keep even the project's whole quota (600 writes/min, 10 a second) busy, while
# 16 idle threads cost little memory. More would only queue on the budget.
MAX_WORKERS = 16


@dataclass(frozen=True)
class RotationRequest:
    """What one run is asked to do: which secrets, forced or not, for real or not.

    ``secrets`` are full names. With ``managed`` (the managed secrets, as configured and
    discovered), one spelled as in ``managed`` is rotated as it is, and one that names its
    project differently (by number for an id) is resolved by :func:`run`, which refuses it (403)
    when it denotes none of them. ``written`` holds each as the caller wrote it, for that
    message. Without ``managed`` the names are taken as they are.
    """

    secrets: tuple[str, ...]
    force: bool
    dry_run: bool
    # Where the names came from, for the advice when one names no secret.
    named_in: str = "ROTATION_SECRETS"
    managed: tuple[str, ...] = ()
    written: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dependencies:
    """What a run uses, built once per instance by its entry point (:mod:`.runtime`).

    ``refresher`` is a factory: Momento's client (and its imports) is built only when a key
    actually needs refreshing.
    """

    config: Config
    store: SecretStore
    refresher: Callable[[], KeyRefresher]
    pacer: Pacer
    # Project id -> number, learned from the names Secret Manager returns; one per instance.
    project_numbers: ProjectNumbers

    def rotator(self) -> Rotator:
        from rotation.service.rotate import Rotator  # noqa: PLC0415 - not needed to start

        return Rotator(
            self.config,
            self.store,
            self.refresher,
            clock=lambda: datetime.now(UTC),
            pacer=self.pacer,
        )

    def configured_as(self, name: str, secrets: tuple[str, ...]) -> str | None:
        """The secret among ``secrets`` that ``name`` denotes, however either names its
        project (id or number); the number is learned from Secret Manager, once per project,
        from the secret itself (GetSecret), whatever state its versions are in."""
        return configured_for(name, secrets, self.project_numbers, self._returned_name)

    def distinct(self, secrets: tuple[str, ...]) -> tuple[str, ...]:
        """``secrets`` without the ones that name an earlier one's secret by its project's
        number instead of its id (or the other way round): one secret, one rotation."""
        return distinct_secrets(secrets, self.project_numbers, self._returned_name)

    def _returned_name(self, secret: str) -> str:
        return self.store.get_metadata(secret).name


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


def run(
    dependencies: Dependencies, request: RotationRequest, *, workers: int = MAX_WORKERS
) -> RunResult:
    """Rotate the request's secrets, at most ``workers`` at a time; never raises for a secret.

    Raises :class:`RequestError` (403) before rotating anything when a name denotes no
    configured secret. One secret named twice (by project id and by project number) is rotated
    once.
    """
    secrets = _resolved(dependencies, request)
    rotator = dependencies.rotator()

    def rotate(secret: str) -> SecretResult:
        return rotator.rotate(
            secret, force=request.force, dry_run=request.dry_run, named_in=request.named_in
        )

    secrets = dependencies.distinct(secrets) if len(secrets) > 1 else secrets
    _warn_if_budget_too_small(dependencies.config, len(secrets))
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


def _resolved(dependencies: Dependencies, request: RotationRequest) -> tuple[str, ...]:
    """The request's secrets as managed: a name spelling its project otherwise is looked up
    (one GetSecret per project, then remembered)."""
    configured = request.managed
    if not configured:
        return tuple(dict.fromkeys(request.secrets))
    resolved: list[str] = []
    for index, name in enumerate(request.secrets):
        found = name if name in configured else dependencies.configured_as(name, configured)
        if found is None:
            written = request.written[index] if index < len(request.written) else name
            raise not_configured(written, configured)
        resolved.append(found)
    return tuple(dict.fromkeys(resolved))


def not_configured(written: str, configured: tuple[str, ...]) -> RequestError:
    """The 403 for a name that denotes no configured secret, naming it as it was written."""
    return RequestError(
        f"secret {_named(written)} is not configured for rotation; configured: "
        f"{', '.join(configured)}",
        code=ErrorCode.SECRET_NOT_CONFIGURED,
    )


def _named(text: str) -> str:
    """A secret name for a message: printable ones as they are (cut at 300 characters, with the
    length), so a 403 says which secret it means; others as hex, never put into the message."""
    if not text.isprintable():
        return short(text)
    if len(text) <= 300:
        return repr(text)
    return f"{text[:300]!r}... ({len(text)} characters)"


def short(text: str) -> str:
    """Caller-written text for a message: printable text of 64 characters or fewer as it is,
    anything else as the hex of its first 32 characters."""
    # surrogatepass: text with lone surrogates is shown as hex, never put into the message.
    if len(text) <= 64 and text.isprintable():
        return repr(text)
    return repr(text[:32].encode("utf-8", "surrogatepass").hex() + "...")


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
