"""Step 7, the retention sweep: housekeeping after the key is safe.

It disables versions superseded for longer than ``RETENTION`` and, with ``DESTROY_AFTER`` set,
destroys disabled ones whose retention ended longer ago than that (plans: rotation.rules.retention).
One list of every version but the destroyed ones serves both. Never a version an alias names,
never the latest.

It is housekeeping, and behaves like it:

- **Paced** by the project's write budget, spread out, never in the refreshes' reserve
  (rotation.adapters.pacing.housekeeping), and limited per version (1 state change a second).
- **Within a time budget** (``SWEEP_BUDGET``): a sick secret must not hold the run while a later
  secret is due. What is left waits for the next run: cut short by the budget or by a transient
  error, the sweep is a WARNING (``sweep_incomplete``), answered 2xx.
- **Stops at the first persistent failure** (permission, precondition): that is a failure.
- **A lost race is no failure**: a version changed since it was listed (a concurrent sweep got
  there first) is passed over.
- **Delayed destruction** (the secret's ``version_destroy_ttl``): Secret Manager then only
  schedules a destroy; the version stays DISABLED with a ``scheduled_destroy_time``. It is
  reported as scheduled, and not asked again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from momento_key_common.errors import ConflictError, ErrorCode, SecretStoreError
from rotation.adapters import pacing
from rotation.rules.config import Config
from rotation.rules.durations import format_duration
from rotation.rules.outcomes import Attention, KeptVersion
from rotation.rules.ports import DestroyOutcome, SecretStore
from rotation.rules.retention import DestroyPlan, SweepPlan, VersionInfo, plan_destroy, plan_disable

# How long one secret's sweep may take, retries included.
SWEEP_BUDGET = timedelta(seconds=10)


@dataclass(frozen=True)
class Sweep:
    """What the sweep did (or, in a dry run, would do).

    ``error`` is a persistent failure (permission, precondition): the run fails. ``cut_short``
    is housekeeping left for the next run (its time budget, a transient error): a warning.
    """

    disabled: tuple[str, ...] = ()
    kept: tuple[KeptVersion, ...] = ()
    note: str = ""
    error: SecretStoreError | None = None
    cut_short: Attention | None = None
    destroyed: tuple[str, ...] = ()
    # Destruction scheduled (version_destroy_ttl): by this run, or waiting from an earlier one.
    destroy_scheduled: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Step:
    """One kind of housekeeping write: what it does to a version, in words and in a call."""

    verb: str  # "disable", "destroy"
    doing: str  # "disabling", "destroying"
    done: str  # "disabled", "destroyed"
    noun: str  # what it acts on: "superseded versions", "disabled versions"
    left: str  # what the versions not reached remain: "enabled", "disabled"
    write: Callable[[VersionInfo, timedelta], DestroyOutcome | None]


class Sweeper:
    """Sweeps one secret at a time with the given store; one instance serves many runs."""

    def __init__(
        self,
        config: Config,
        store: SecretStore,
        clock: Callable[[], datetime],
        budget: timedelta = SWEEP_BUDGET,
    ) -> None:
        self._config = config
        self._store = store
        self._clock = clock
        self._budget = budget

    def sweep(
        self, secret: str, latest_number: int, aliases: Mapping[str, int], *, dry_run: bool
    ) -> Sweep:
        """Disable, then destroy, what the plans say; ``latest_number`` is the version this run
        read or wrote and checked is healthy."""
        started = time.monotonic()
        try:
            versions = self._store.list_versions(secret)
        except SecretStoreError as error:
            return _sweep_failed("disabling", 0, None, error)
        disabling = self._disable_plan(versions, latest_number, aliases)
        destroying = self._destroy_plan(versions, latest_number, aliases)
        kept = tuple(KeptVersion(v.name, names) for v, names in disabling.kept_for_aliases)
        waiting = tuple(version.name for version in destroying.scheduled)
        if dry_run:
            return Sweep(
                tuple(v.name for v in disabling.disable),
                kept,
                _dry_run_note(len(disabling.disable), len(destroying.destroy)),
                destroyed=tuple(v.name for v in destroying.destroy),
                destroy_scheduled=waiting,
            )
        disable = _Step(
            "disable", "disabling", "disabled", "superseded versions", "enabled", self._disable
        )
        done = self._run(disable, disabling.disable, started, kept)
        if done.error is not None or done.cut_short is not None or not destroying.destroy:
            return replace(done, destroy_scheduled=waiting)
        destroy = _Step(
            "destroy", "destroying", "destroyed", "disabled versions", "disabled", self._destroy
        )
        destroyed = self._run(destroy, destroying.destroy, started, kept)
        return replace(
            destroyed,
            disabled=done.disabled,
            destroy_scheduled=(*waiting, *destroyed.destroy_scheduled),
        )

    def _disable(self, version: VersionInfo, deadline: timedelta) -> None:
        self._store.disable(version, deadline=deadline)

    def _destroy(self, version: VersionInfo, deadline: timedelta) -> DestroyOutcome:
        return self._store.destroy(version, deadline=deadline)

    def _run(
        self,
        step: _Step,
        versions: Sequence[VersionInfo],
        started: float,
        kept: tuple[KeptVersion, ...],
    ) -> Sweep:
        """``step`` on each version, oldest first, until done, out of time, or a failure."""
        done: list[str] = []
        scheduled: list[str] = []

        def result(
            error: SecretStoreError | None = None, cut_short: Attention | None = None
        ) -> Sweep:
            names = tuple(done)
            if step.verb == "disable":
                return Sweep(disabled=names, kept=kept, error=error, cut_short=cut_short)
            return Sweep(
                kept=kept,
                error=error,
                cut_short=cut_short,
                destroyed=names,
                destroy_scheduled=tuple(scheduled),
            )

        for version in versions:
            remaining = self._budget.total_seconds() - (time.monotonic() - started)
            if remaining <= 0:
                spent = "its time budget is spent"
                return result(cut_short=self._cut_short(step, len(done), len(versions), spent))
            try:
                # Waiting for the write budget counts against the sweep's own budget.
                with pacing.wait_at_most(remaining), pacing.housekeeping():
                    outcome = step.write(version, timedelta(seconds=remaining))
            except ConflictError:
                continue  # changed since we listed it: a concurrent sweep got there first
            except pacing.PacingTimeoutError:
                why = (
                    "its time budget ran out waiting for the write budget "
                    f"(SECRET_MANAGER_WRITES_PER_MINUTE={self._config.writes_per_minute})"
                )
                return result(cut_short=self._cut_short(step, len(done), len(versions), why))
            except SecretStoreError as error:
                if error.code.transient:
                    warning = self._cut_short(step, len(done), len(versions), error.message)
                    return result(cut_short=warning)
                return result(
                    error=_sweep_failed(step.doing, len(done), len(versions), error).error
                )
            if outcome is DestroyOutcome.SCHEDULED:
                scheduled.append(version.name)
            else:
                done.append(version.name)
        return result()

    def _cut_short(self, step: _Step, done: int, of: int, why: str) -> Attention:
        return Attention(
            ErrorCode.SWEEP_INCOMPLETE,
            f"the retention sweep {step.done} {done} of {of} {step.noun} and stopped ({why}; each "
            f"run sweeps for at most {format_duration(self._budget)}); {of - done} remain "
            f"{step.left}, and the next run continues. The key itself is unaffected",
        )

    def _disable_plan(
        self, versions: Sequence[VersionInfo], latest_number: int, aliases: Mapping[str, int]
    ) -> SweepPlan:
        return plan_disable(
            [version for version in versions if version.state == "ENABLED"],
            latest_number=latest_number,
            now=self._clock(),
            retention=self._config.retention,
            min_enabled=self._config.min_enabled_versions,
            aliases=aliases,
        )

    def _destroy_plan(
        self, versions: Sequence[VersionInfo], latest_number: int, aliases: Mapping[str, int]
    ) -> DestroyPlan:
        if self._config.destroy_after is None:
            return DestroyPlan()
        return plan_destroy(
            versions,
            latest_number=latest_number,
            now=self._clock(),
            retention=self._config.retention,
            destroy_after=self._config.destroy_after,
            aliases=aliases,
        )


def _dry_run_note(disable: int, destroy: int) -> str:
    parts = [
        f"disable {disable} superseded version(s)" if disable else "",
        f"destroy {destroy} disabled version(s)" if destroy else "",
    ]
    wanted = " and ".join(part for part in parts if part)
    return f"dry run: would {wanted}" if wanted else ""


def _sweep_failed(doing: str, done: int, of: int | None, error: SecretStoreError) -> Sweep:
    progress = f"after {doing} {done} of {of} versions" if of is not None else "before it began"
    stopped = f"the retention sweep stopped {progress}: {error.message}"
    if error.code.transient:
        return Sweep(cut_short=Attention(ErrorCode.SWEEP_INCOMPLETE, stopped))
    failure = SecretStoreError(f"{stopped}; the key itself is unaffected", code=error.code)
    return Sweep(error=failure)
