"""A per-secret lease that Secret Manager arbitrates, so concurrent runs refresh a key once.

Cloud Scheduler retries, a manual run and a second deployment can all invoke the function at the
same moment, on different instances: a local lock can't see them. The lease is an annotation on
the secret itself, written with the secret's etag (a compare-and-swap): of several writers that
read the same etag, exactly one succeeds. The lease expires, so a holder that crashed is taken
over by the next run, which also learns from the lease which version that holder was refreshing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rotation.ports import SecretStore

LEASE_ANNOTATION = "momento-key-rotation/lease"
# Which version the last refresh wrote, and when: lets a burst of *forced* runs refresh once.
LAST_REFRESH_ANNOTATION = "momento-key-rotation/last-refresh"


@dataclass(frozen=True)
class Lease:
    holder: str
    expires_at: datetime
    base_version: int  # the version the holder read and is refreshing from
    taken_at: datetime


@dataclass(frozen=True)
class LastRefresh:
    version: int
    at: datetime


@dataclass(frozen=True)
class LeaseOutcome:
    """``acquired`` is ours, else ``held_by`` is the live lease of another run.

    ``abandoned`` is an expired lease we took over: a run that started refreshing and never
    released, which may have spent the refresh token.
    """

    acquired: Lease | None
    held_by: Lease | None = None
    abandoned: Lease | None = None
    last_refresh: LastRefresh | None = None


def try_acquire(
    store: SecretStore, secret: str, *, base_version: int, now: datetime, duration: timedelta
) -> LeaseOutcome:
    """Take the lease on ``secret`` unless another run holds a live one."""
    metadata = store.get_metadata(secret)
    current = parse_lease(metadata.annotations.get(LEASE_ANNOTATION))
    if current is not None and current.expires_at > now:
        return LeaseOutcome(acquired=None, held_by=current)
    mine = Lease(uuid.uuid4().hex, now + duration, base_version, now)
    annotations = {**metadata.annotations, LEASE_ANNOTATION: _render(mine)}
    if not store.replace_annotations(secret, annotations, metadata.etag):
        # Someone else wrote first with the same etag: they hold it now.
        return LeaseOutcome(acquired=None, held_by=current)
    last_refresh = parse_last_refresh(metadata.annotations.get(LAST_REFRESH_ANNOTATION))
    return LeaseOutcome(acquired=mine, abandoned=current, last_refresh=last_refresh)


def release(
    store: SecretStore, secret: str, lease: Lease, *, refreshed: LastRefresh | None
) -> None:
    """Remove our lease, recording our refresh if we made one.

    If the lease is no longer ours (it expired and was taken over), leave it alone.
    """
    metadata = store.get_metadata(secret)
    current = parse_lease(metadata.annotations.get(LEASE_ANNOTATION))
    if current is None or current.holder != lease.holder:
        return
    annotations = {k: v for k, v in metadata.annotations.items() if k != LEASE_ANNOTATION}
    if refreshed is not None:
        annotations[LAST_REFRESH_ANNOTATION] = json.dumps(
            {"version": refreshed.version, "at": int(refreshed.at.timestamp())},
            separators=(",", ":"),
        )
    # A lost race here only means the lease lives until it expires.
    store.replace_annotations(secret, annotations, metadata.etag)


def parse_lease(raw: str | None) -> Lease | None:
    """The lease in an annotation value; an unreadable one counts as no lease at all."""
    if not raw:
        return None
    try:
        fields = json.loads(raw)
        return Lease(
            holder=str(fields["holder"]),
            expires_at=datetime.fromtimestamp(float(fields["expires_at"]), UTC),
            base_version=int(fields["base_version"]),
            taken_at=datetime.fromtimestamp(float(fields["taken_at"]), UTC),
        )
    except (ValueError, KeyError, TypeError):
        return None


def parse_last_refresh(raw: str | None) -> LastRefresh | None:
    if not raw:
        return None
    try:
        fields = json.loads(raw)
        return LastRefresh(int(fields["version"]), datetime.fromtimestamp(float(fields["at"]), UTC))
    except (ValueError, KeyError, TypeError):
        return None


def _render(lease: Lease) -> str:
    return json.dumps(
        {
            "holder": lease.holder,
            "expires_at": int(lease.expires_at.timestamp()),
            "base_version": lease.base_version,
            "taken_at": int(lease.taken_at.timestamp()),
        },
        separators=(",", ":"),
    )
