"""A per-secret lease that Secret Manager arbitrates, so concurrent runs refresh a key once.

Cloud Scheduler retries, a manual run and a second deployment can all invoke the function at the
same moment, on different instances: a local lock can't see them. The lease is an annotation on
the secret itself, written with the secret's etag (a compare-and-swap): of several writers that
read the same etag, exactly one succeeds. The lease expires, so a holder that crashed is taken
over by the next run, which also learns from the lease which version that holder was refreshing.

On release the holder records its last attempt in a second annotation: which version it
refreshed (so a burst of *forced* runs refreshes once), or which version's refresh timed out (so
a later "refresh token not accepted" can say that the timed-out refresh probably spent it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from rotation.ports import SecretStore

# Annotation keys must be 1-63 characters, start and end with an alphanumeric, with only
# alphanumerics, "-", "_" and "." between (the Secret.annotations field docstring in
# google/cloud/secretmanager_v1/types/resources.py). So no "/", unlike Kubernetes annotations.
LEASE_ANNOTATION = "momento-key-rotation.lease"
LAST_ATTEMPT_ANNOTATION = "momento-key-rotation.last-attempt"
# What releases before 2026-12 tried to write. The service refuses such keys, but a secret
# seeded by other tooling may carry them: they are read as a fallback and never written back.
LEGACY_ANNOTATIONS = {
    LEASE_ANNOTATION: "momento-key-rotation/lease",
    LAST_ATTEMPT_ANNOTATION: "momento-key-rotation/last-attempt",
}


@dataclass(frozen=True)
class Lease:
    holder: str
    expires_at: datetime
    base_version: int  # the version the holder read and is refreshing from
    taken_at: datetime


class Outcome(Enum):
    REFRESHED = "refreshed"  # ``version`` is the version the refresh wrote
    TIMED_OUT = "timed_out"  # ``version`` is the version whose refresh got no answer


@dataclass(frozen=True)
class LastAttempt:
    version: int
    at: datetime
    outcome: Outcome


@dataclass(frozen=True)
class LeaseOutcome:
    """``acquired`` is ours, else ``held_by`` is the live lease of another run.

    ``abandoned`` is an expired lease we took over: a run that started refreshing and never
    released, which may have spent the refresh token. ``last_attempt`` is what the previous
    holder recorded.
    """

    acquired: Lease | None
    held_by: Lease | None = None
    abandoned: Lease | None = None
    last_attempt: LastAttempt | None = None


def try_acquire(
    store: SecretStore, secret: str, *, base_version: int, now: datetime, duration: timedelta
) -> LeaseOutcome:
    """Take the lease on ``secret`` unless another run holds a live one."""
    metadata = store.get_metadata(secret)
    current = parse_lease(_read(metadata.annotations, LEASE_ANNOTATION))
    if current is not None and current.expires_at > now:
        return LeaseOutcome(acquired=None, held_by=current)
    mine = Lease(uuid.uuid4().hex, now + duration, base_version, now)
    annotations = {**_without_legacy(metadata.annotations), LEASE_ANNOTATION: _render_lease(mine)}
    if not store.replace_annotations(secret, annotations, metadata.etag):
        # Someone else wrote first with the same etag, or our own write landed and its retry
        # then failed on the etag it had just changed: look at who holds the lease now.
        now_held = parse_lease(_read(store.get_metadata(secret).annotations, LEASE_ANNOTATION))
        if now_held is None or now_held.holder != mine.holder:
            return LeaseOutcome(acquired=None, held_by=now_held)
    last_attempt = parse_last_attempt(_read(metadata.annotations, LAST_ATTEMPT_ANNOTATION))
    return LeaseOutcome(acquired=mine, abandoned=current, last_attempt=last_attempt)


def release(store: SecretStore, secret: str, lease: Lease, attempt: LastAttempt | None) -> None:
    """Remove our lease, recording our attempt if there was one worth remembering.

    If the lease is no longer ours (it expired and was taken over), leave it alone.
    """
    metadata = store.get_metadata(secret)
    current = parse_lease(_read(metadata.annotations, LEASE_ANNOTATION))
    if current is None or current.holder != lease.holder:
        return
    annotations = {
        key: value
        for key, value in _without_legacy(metadata.annotations).items()
        if key != LEASE_ANNOTATION
    }
    if attempt is not None:
        annotations[LAST_ATTEMPT_ANNOTATION] = json.dumps(
            {
                "version": attempt.version,
                "at": int(attempt.at.timestamp()),
                "outcome": attempt.outcome.value,
            },
            separators=(",", ":"),
        )
    # A lost race here only means the lease lives until it expires.
    store.replace_annotations(secret, annotations, metadata.etag)


def _read(annotations: Mapping[str, str], key: str) -> str | None:
    value = annotations.get(key)
    return value if value is not None else annotations.get(LEGACY_ANNOTATIONS[key])


def _without_legacy(annotations: Mapping[str, str]) -> dict[str, str]:
    """Every annotation but our legacy keys, which the service would refuse in a write."""
    legacy = set(LEGACY_ANNOTATIONS.values())
    return {key: value for key, value in annotations.items() if key not in legacy}


def parse_lease(raw: str | None) -> Lease | None:
    """The lease in an annotation value; an unreadable one counts as no lease at all."""
    fields = _json_object(raw)
    try:
        return Lease(
            holder=str(fields["holder"]),
            expires_at=_moment(fields["expires_at"]),
            base_version=int(fields["base_version"]),
            taken_at=_moment(fields["taken_at"]),
        )
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def parse_last_attempt(raw: str | None) -> LastAttempt | None:
    fields = _json_object(raw)
    try:
        return LastAttempt(
            int(fields["version"]), _moment(fields["at"]), Outcome(fields["outcome"])
        )
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def _json_object(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _moment(epoch: Any) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


def _render_lease(lease: Lease) -> str:
    return json.dumps(
        {
            "holder": lease.holder,
            "expires_at": int(lease.expires_at.timestamp()),
            "base_version": lease.base_version,
            "taken_at": int(lease.taken_at.timestamp()),
        },
        separators=(",", ":"),
    )
