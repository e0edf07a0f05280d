"""A per-secret lease that Secret Manager arbitrates, so concurrent runs refresh a key once.

Cloud Scheduler retries, a manual run and a second deployment can all invoke the function at the
same moment, on different instances: a local lock can't see them. The lease is an annotation on
the secret itself, written with the secret's etag (a compare-and-swap): of several writers that
read the same etag, exactly one succeeds.

The lease names the version it refreshes from (``base_version``). It is tied to that version:

- **held** while the base is still the latest version and the lease has not expired;
- **superseded** once a newer version exists. The holder's new version releases the lease
  without another write, and the lease stays behind as the record of that refresh: a run that
  finds a superseded lease taken less than ``LEASE_DURATION`` ago skips, so a burst of *forced*
  runs (or a key whose lifetime is shorter than ``REFRESH_BEFORE``) refreshes once;
- **abandoned** once it expires with its base still the latest: the holder died, probably
  between the refresh and the write. The next run takes it over and can say so;
- **released** explicitly (``released_at``) only when a holder failed before storing anything,
  so that the next run need not wait for the expiry. A refresh that got no answer from Momento
  is recorded (``timed_out_at``), as is one whose new key Secret Manager did not store
  (``unstored_at``), and carried forward on the same base, so a later "refresh token not
  accepted" can say that the earlier refresh (probably, or surely) spent it.

Why this is safe without re-reading the latest version under the lease: the caller reads the
latest version *before* it reads the secret (the metadata :func:`try_acquire` is given), and
every refresher writes its lease (changing the etag) *before* adding its version. So a refresh
we did not see in the annotations began after our read of the secret and makes our
compare-and-swap fail; one we did see either added its version before our read of the latest
(superseded) or holds the lease on the version we read (held, or abandoned only after
``LEASE_DURATION``, which outlasts any holder: see :func:`rotation.rules.config.load_config`).

A version added by hand while a refresh is in flight also supersedes its lease: a run that
comes after it skips for ``LEASE_DURATION`` as after a burst, and the holder goes on to store its
own refresh of the version it read, which is a valid key too.

**Two clocks.** Times in the lease are the writer's. A runner whose clock is behind writes a lease
that looks expired early to one whose clock is right, which would then take it over and refresh a
second time. So a live lease counts as held until ``CLOCK_SKEW_ALLOWANCE`` after its expiry: a
killed run's lease is taken over that much later, and no plausible skew makes two runs refresh.

**Size.** Keys and values of all a secret's annotations must stay under 16 KiB (the
``Secret.annotations`` docstring). The lease is taken only when its largest form, the release
record a failed run writes, fits beside the secret's other annotations: a lease whose release was
refused would stay held until it expired, and the run after would skip as if someone were
refreshing.

Releases before 2026-12 kept the outcome in a second annotation (``LAST_ATTEMPT_ANNOTATION``);
it is still read, as a fallback, and dropped on the next write, its timeout carried forward.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from momento_key_common.errors import ErrorCode, RotationError, SecretStoreError
from rotation.rules.ports import SecretMetadata, SecretStore

# Annotation keys must be 1-63 characters, start and end with an alphanumeric, with only
# alphanumerics, "-", "_" and "." between (the Secret.annotations field docstring in
# google/cloud/secretmanager_v1/types/resources.py). So no "/", unlike Kubernetes annotations.
LEASE_ANNOTATION = "momento-key-rotation.lease"
# Written by releases before the lease became the record of the last attempt; read, not written.
LAST_ATTEMPT_ANNOTATION = "momento-key-rotation.last-attempt"
# Secret.annotations: "The total size of annotation keys and values must be less than 16KiB".
ANNOTATIONS_MAX_BYTES = 16 * 1024 - 1
# How far two runners' clocks may plausibly disagree. Cloud Functions keep time with Google's
# NTP; a laptop running the CLI may be minutes off. A live lease is respected this long past
# its own expiry, so a killed run's lease is taken over this much later.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=15)


@dataclass(frozen=True)
class Lease:
    """The lease annotation: who refreshes which version, since and until when."""

    holder: str
    expires_at: datetime
    base_version: int  # the version the holder read and is refreshing from
    taken_at: datetime
    released_at: datetime | None = None  # set when the holder gave up without a new version
    timed_out_at: datetime | None = None  # a refresh of base_version got no answer from Momento
    # a refresh of base_version succeeded but Secret Manager did not store it: the token is spent
    unstored_at: datetime | None = None


class Outcome(Enum):
    REFRESHED = "refreshed"  # ``version`` is the version the refresh wrote
    TIMED_OUT = "timed_out"  # ``version`` is the version whose refresh got no answer


@dataclass(frozen=True)
class LastAttempt:
    """The outcome annotation of releases before 2026-12 (read as a fallback only)."""

    version: int
    at: datetime
    outcome: Outcome


@dataclass(frozen=True)
class LeaseOutcome:
    """``acquired`` is ours (``etag`` is the secret's after our write); otherwise the reason.

    Not acquired: ``held_by`` is the live lease of another run (``None`` with nothing else set:
    we lost the compare-and-swap just now), or ``refreshed_at`` says another run refreshed this
    key moments ago. ``abandoned`` is an expired lease on the same version that we took over: a
    run that started refreshing and never finished, which may have spent the refresh token.
    ``timed_out_at`` is when an earlier refresh of this version got no answer. ``metadata`` is
    the secret as read before the lease (its aliases serve the sweep).
    """

    acquired: Lease | None
    metadata: SecretMetadata
    etag: str = ""
    held_by: Lease | None = None
    refreshed_at: datetime | None = None
    abandoned: Lease | None = None
    timed_out_at: datetime | None = None
    unstored_at: datetime | None = None


def try_acquire(
    store: SecretStore,
    secret: str,
    *,
    metadata: SecretMetadata,
    base_version: int,
    now: datetime,
    duration: timedelta,
) -> LeaseOutcome:
    """Take the lease to refresh ``base_version`` of ``secret``, unless that is not ours to do.

    ``base_version`` must have been read before ``metadata`` (see the module docstring). One
    write when the lease is free; none otherwise. Raises RotationError (annotations_too_large)
    when the lease's release record would not fit beside the secret's other annotations.
    """
    current = parse_lease(metadata.annotations.get(LEASE_ANNOTATION))
    last = parse_last_attempt(metadata.annotations.get(LAST_ATTEMPT_ANNOTATION))
    live = current if current is not None and current.released_at is None else None
    if live is not None:
        # A lease on a newer version than ours means our read is older than its holder's.
        if live.base_version > base_version or (
            live.base_version == base_version and held_at(live, now)
        ):
            return LeaseOutcome(None, metadata, held_by=live)
        if live.base_version < base_version and now - live.taken_at < duration:
            return LeaseOutcome(None, metadata, refreshed_at=live.taken_at)
    if (
        last is not None
        and last.outcome is Outcome.REFRESHED
        and last.version == base_version
        and now - last.at < duration
    ):
        return LeaseOutcome(None, metadata, refreshed_at=last.at)
    abandoned = live if live is not None and live.base_version == base_version else None
    timed_out_at = _timed_out_at(current, last, base_version)
    same_base = current is not None and current.base_version == base_version
    unstored_at = current.unstored_at if current is not None and same_base else None
    # 128 random bits name the holder (as uuid4 would, without importing uuid at cold start).
    holder = os.urandom(16).hex()
    mine = Lease(
        holder,
        now + duration,
        base_version,
        now,
        timed_out_at=timed_out_at,
        unstored_at=unstored_at,
    )
    _check_fits(secret, metadata.annotations, mine)
    try:
        etag = store.replace_annotations(
            secret, _with_lease(metadata.annotations, mine), metadata.etag
        )
    except SecretStoreError as error:
        # A burst of runs racing for the lease can run into the per-secret write limit before
        # any of them learns it lost. If another run's lease is there now, this one lost the
        # race: that is a skip, not a failure. Otherwise the error stands.
        if not error.code.transient:
            raise
        after = _reread(store, secret)
        found = None if after is None else parse_lease(after.annotations.get(LEASE_ANNOTATION))
        if after is None or found is None or found == current:
            raise
        if found.holder != mine.holder:
            return LeaseOutcome(None, metadata, held_by=found)
        etag = after.etag  # our write landed; its retry is what the limit refused
    if etag is None:
        # Someone else wrote first with the same etag, or our own write landed and its retry
        # then failed on the etag it had just changed: look at who holds the lease now.
        after = store.get_metadata(secret)
        now_held = parse_lease(after.annotations.get(LEASE_ANNOTATION))
        if now_held is None or now_held.holder != mine.holder:
            return LeaseOutcome(None, metadata, held_by=now_held)
        etag = after.etag
    return LeaseOutcome(
        mine,
        metadata,
        etag=etag,
        abandoned=abandoned,
        timed_out_at=timed_out_at,
        unstored_at=unstored_at,
    )


def _reread(store: SecretStore, secret: str) -> SecretMetadata | None:
    try:
        return store.get_metadata(secret)
    except SecretStoreError:
        return None


def release(
    store: SecretStore,
    secret: str,
    outcome: LeaseOutcome,
    *,
    now: datetime,
    timed_out: bool,
    unstored: bool = False,
) -> None:
    """Mark our lease released, for a holder that stored no new version (one write).

    ``timed_out``: Momento did not answer in time (it may have spent the token). ``unstored``:
    Momento refreshed, but the new key could not be stored (it did spend the token). Either is
    carried forward on the same version, so that the next run's refusal can say why.

    A holder that stored a version never calls this: the version supersedes the lease. If the
    secret changed since our write, release only a lease that is still ours.
    """
    mine = outcome.acquired
    if mine is None:
        return
    record = replace(
        mine,
        released_at=now,
        timed_out_at=now if timed_out else mine.timed_out_at,
        unstored_at=now if unstored else mine.unstored_at,
    )
    annotations, etag = outcome.metadata.annotations, outcome.etag
    for attempt in range(2):
        if attempt:
            metadata = store.get_metadata(secret)
            held = parse_lease(metadata.annotations.get(LEASE_ANNOTATION))
            if held is None or held.holder != mine.holder:
                return  # expired and taken over: no longer ours to release
            annotations, etag = metadata.annotations, metadata.etag
        if store.replace_annotations(secret, _with_lease(annotations, record), etag) is not None:
            return
    # Lost twice to other writers: the lease lives until it expires.


def recorded(annotations: Mapping[str, str]) -> Lease | None:
    """The lease on a secret (or its pre-2026-12 form), whatever its state; None if none."""
    return parse_lease(annotations.get(LEASE_ANNOTATION))


def state(lease: Lease, *, latest_version: int, now: datetime) -> str:
    """held, superseded (the record of a refresh), abandoned (expired on the latest version:
    its holder died) or released (its holder gave up without storing anything)."""
    if lease.released_at is not None:
        return "released"
    if latest_version > lease.base_version:
        return "superseded"
    return "held" if held_at(lease, now) else "abandoned"


def held_at(lease: Lease, now: datetime) -> bool:
    """Whether an unreleased lease on the latest version still counts as held at ``now``."""
    return now < takeover_at(lease)


def takeover_at(lease: Lease) -> datetime:
    """When another run may take over a lease whose holder died: its expiry by the writer's
    clock, plus :data:`CLOCK_SKEW_ALLOWANCE` for ours."""
    return lease.expires_at + CLOCK_SKEW_ALLOWANCE


def _check_fits(secret: str, annotations: Mapping[str, str], lease: Lease) -> None:
    """Refuse a lease whose release record would not fit (see the module docstring)."""
    # The largest form the lease takes: released, with a timeout recorded, at a far-off time.
    far = datetime(9999, 1, 1, tzinfo=UTC)
    record = replace(
        lease, released_at=far, timed_out_at=far, unstored_at=far, expires_at=far, taken_at=far
    )
    total = sum(
        len(key.encode()) + len(value.encode())
        for key, value in _with_lease(annotations, record).items()
    )
    if total > ANNOTATIONS_MAX_BYTES:
        raise RotationError(
            f"{secret} has annotations of {_size(annotations)} bytes; the rotation lease needs "
            f"{total - _size(annotations)} more, and Secret Manager allows less than 16 KiB of "
            f"annotation keys and values in all: remove at least "
            f"{total - ANNOTATIONS_MAX_BYTES} bytes of other annotations from {secret} "
            "(gcloud secrets update --remove-annotations), then run again",
            code=ErrorCode.ANNOTATIONS_TOO_LARGE,
        )


def _size(annotations: Mapping[str, str]) -> int:
    return sum(len(key.encode()) + len(value.encode()) for key, value in annotations.items())


def _timed_out_at(current: Lease | None, last: LastAttempt | None, version: int) -> datetime | None:
    """When an earlier refresh of ``version`` got no answer, from either form of record."""
    if current is not None and current.base_version == version and current.timed_out_at:
        return current.timed_out_at
    if last is not None and last.outcome is Outcome.TIMED_OUT and last.version == version:
        return last.at
    return None


def _with_lease(annotations: Mapping[str, str], lease: Lease) -> dict[str, str]:
    """Every annotation but our old-form keys (which the lease replaces), plus ``lease``."""
    kept = {key: value for key, value in annotations.items() if key != LAST_ATTEMPT_ANNOTATION}
    return {**kept, LEASE_ANNOTATION: _render_lease(lease)}


def parse_lease(raw: str | None) -> Lease | None:
    """The lease in an annotation value; an unreadable one counts as no lease at all."""
    fields = _json_object(raw)
    try:
        return Lease(
            holder=str(fields["holder"]),
            expires_at=_moment(fields["expires_at"]),
            base_version=int(fields["base_version"]),
            taken_at=_moment(fields["taken_at"]),
            released_at=_optional_moment(fields.get("released_at")),
            timed_out_at=_optional_moment(fields.get("timed_out_at")),
            unstored_at=_optional_moment(fields.get("unstored_at")),
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


def _optional_moment(epoch: Any) -> datetime | None:
    return None if epoch is None else _moment(epoch)


def _render_lease(lease: Lease) -> str:
    fields: dict[str, Any] = {
        "holder": lease.holder,
        "expires_at": int(lease.expires_at.timestamp()),
        "base_version": lease.base_version,
        "taken_at": int(lease.taken_at.timestamp()),
    }
    optional = (
        ("released_at", lease.released_at),
        ("timed_out_at", lease.timed_out_at),
        ("unstored_at", lease.unstored_at),
    )
    for name, moment in optional:
        if moment is not None:
            fields[name] = int(moment.timestamp())
    return json.dumps(fields, separators=(",", ":"))
