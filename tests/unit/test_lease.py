"""The lease is tied to the version it refreshes: held, superseded, abandoned or released."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from momento_key_common.errors import ErrorCode, RotationError, SecretStoreError
from rotation.service import lease
from rotation.service.lease import (
    ANNOTATIONS_MAX_BYTES,
    CLOCK_SKEW_ALLOWANCE,
    LAST_ATTEMPT_ANNOTATION,
    LEASE_ANNOTATION,
    parse_lease,
    release,
    try_acquire,
)
from tests.fakes import FakeStore, FakeVersion

SECRET = "projects/p/secrets/s"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DURATION = timedelta(minutes=5)
MINUTE = timedelta(minutes=1)


def lease_json(base: int, *, taken: timedelta, **extra: object) -> str:
    """A lease on ``base`` taken ``taken`` ago, lasting DURATION."""
    taken_at = NOW - taken
    fields = {
        "holder": "another-run",
        "base_version": base,
        "taken_at": int(taken_at.timestamp()),
        "expires_at": int((taken_at + DURATION).timestamp()),
        **extra,
    }
    return json.dumps(fields)


def store_with(annotations: dict[str, str], versions: int = 2) -> FakeStore:
    store = FakeStore(SECRET, annotations=annotations)
    store.versions = [FakeVersion(b"{}", NOW - timedelta(days=30))] * versions
    return store


def acquire(store: FakeStore, base: int = 2, now: datetime = NOW):
    metadata = store.get_metadata(SECRET)
    return try_acquire(
        store, SECRET, metadata=metadata, base_version=base, now=now, duration=DURATION
    )


# Expired by the writer's clock longer ago than any plausible skew between runners.
LONG_EXPIRED = DURATION + CLOCK_SKEW_ALLOWANCE + MINUTE


AT_NOW = int(NOW.timestamp())


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, "acquired"),
        ({"owner": "payments-team"}, "acquired"),
        ({LEASE_ANNOTATION: "not json"}, "acquired"),
        ({LEASE_ANNOTATION: lease_json(2, taken=MINUTE)}, "held"),
        ({LEASE_ANNOTATION: lease_json(3, taken=MINUTE)}, "held"),
        ({LEASE_ANNOTATION: lease_json(3, taken=DURATION * 2)}, "held"),
        ({LEASE_ANNOTATION: lease_json(2, taken=DURATION * 2)}, "held"),
        ({LEASE_ANNOTATION: lease_json(2, taken=LONG_EXPIRED)}, "abandoned"),
        ({LEASE_ANNOTATION: lease_json(1, taken=MINUTE)}, "refreshed"),
        ({LEASE_ANNOTATION: lease_json(1, taken=DURATION * 2)}, "acquired"),
        ({LEASE_ANNOTATION: lease_json(2, taken=MINUTE, released_at=AT_NOW)}, "acquired"),
        (
            {
                LAST_ATTEMPT_ANNOTATION: json.dumps(
                    {"version": 2, "at": AT_NOW - 60, "outcome": "refreshed"}
                )
            },
            "refreshed",
        ),
        (
            {
                LAST_ATTEMPT_ANNOTATION: json.dumps(
                    {"version": 2, "at": AT_NOW - 3600, "outcome": "refreshed"}
                )
            },
            "acquired",
        ),
        (
            {
                LAST_ATTEMPT_ANNOTATION: json.dumps(
                    {"version": 1, "at": AT_NOW - 60, "outcome": "refreshed"}
                )
            },
            "acquired",
        ),
    ],
    ids=[
        "none",
        "others-only",
        "unreadable",
        "live-on-our-version",
        "on-a-newer-version",
        "expired-on-a-newer-version",
        "expired-on-our-version-within-the-skew-allowance",
        "expired-on-our-version-past-the-skew-allowance",
        "superseded-moments-ago",
        "superseded-long-ago",
        "released",
        "old-record-refreshed-our-version-moments-ago",
        "old-record-refreshed-long-ago",
        "old-record-refreshed-an-older-version",
    ],
)
def test_what_a_run_finds_decides_whether_it_takes_the_lease(annotations, expected) -> None:
    """Base version 2 is the latest this run read."""
    store = store_with(annotations)
    outcome = acquire(store)
    found = (
        "held"
        if outcome.held_by is not None
        else "refreshed"
        if outcome.refreshed_at is not None
        else "abandoned"
        if outcome.abandoned is not None
        else "acquired"
        if outcome.acquired is not None
        else "lost"
    )
    assert found == expected
    if outcome.acquired is not None:
        written = parse_lease(store.annotations[LEASE_ANNOTATION])
        assert written == outcome.acquired
        assert outcome.etag == str(store.etag), "the etag after our write, for a release"
    else:
        assert store.annotations == annotations, "nothing written"


def test_taking_the_lease_keeps_other_annotations_and_drops_old_record_keys() -> None:
    store = store_with(
        {
            "owner": "payments-team",
            LAST_ATTEMPT_ANNOTATION: '{"version": 1, "at": 0, "outcome": "refreshed"}',
        }
    )
    assert acquire(store).acquired is not None
    assert set(store.annotations) == {"owner", LEASE_ANNOTATION}


@pytest.mark.parametrize(
    "annotations",
    [
        {
            LEASE_ANNOTATION: lease_json(
                2, taken=MINUTE, released_at=AT_NOW, timed_out_at=AT_NOW - 60
            )
        },
        {
            LAST_ATTEMPT_ANNOTATION: json.dumps(
                {"version": 2, "at": AT_NOW - 60, "outcome": "timed_out"}
            )
        },
    ],
    ids=["lease-record", "old-record"],
)
def test_a_timed_out_refresh_of_this_version_is_remembered_and_carried_forward(annotations) -> None:
    store = store_with(annotations)
    outcome = acquire(store)
    assert outcome.timed_out_at == NOW - MINUTE
    written = parse_lease(store.annotations[LEASE_ANNOTATION])
    assert written is not None and written.timed_out_at == NOW - MINUTE


def test_a_timeout_on_an_older_version_explains_nothing() -> None:
    old = lease_json(1, taken=MINUTE * 10, released_at=AT_NOW, timed_out_at=AT_NOW - 600)
    assert acquire(store_with({LEASE_ANNOTATION: old})).timed_out_at is None


def test_a_lost_compare_and_swap_takes_nothing() -> None:
    store = store_with({})
    theirs = lease_json(2, taken=timedelta(0))

    def someone_else_wrote_first(fake: FakeStore) -> bool:
        fake.annotations[LEASE_ANNOTATION] = theirs
        return False  # our etag was stale

    store.on_replace = someone_else_wrote_first
    outcome = acquire(store)
    assert outcome.acquired is None and outcome.refreshed_at is None
    assert outcome.held_by == parse_lease(theirs)


@pytest.mark.parametrize("timed_out", [False, True], ids=["failed", "timed-out"])
def test_release_marks_the_lease_released_in_one_write(timed_out: bool) -> None:
    store = store_with({"owner": "payments-team"})
    outcome = acquire(store)
    etag = store.etag
    release(store, SECRET, outcome, now=NOW + MINUTE, timed_out=timed_out)
    record = parse_lease(store.annotations[LEASE_ANNOTATION])
    assert record is not None and record.released_at == NOW + MINUTE
    assert record.timed_out_at == (NOW + MINUTE if timed_out else None)
    assert store.etag == etag + 1
    assert store.annotations["owner"] == "payments-team"
    assert acquire(store).acquired is not None, "the next run need not wait for the expiry"


def test_release_leaves_a_lease_that_was_taken_over_alone() -> None:
    store = store_with({})
    outcome = acquire(store)
    store.annotations[LEASE_ANNOTATION] = lease_json(2, taken=timedelta(0))
    store.etag += 1
    taken_over = dict(store.annotations)
    release(store, SECRET, outcome, now=NOW, timed_out=False)
    assert store.annotations == taken_over


@pytest.mark.parametrize(
    ("latest", "released", "expires_in", "expected"),
    [
        (3, False, 60, "held"),
        (4, False, 60, "superseded"),
        (4, False, -60, "superseded"),
        (3, False, -60, "held"),
        (3, False, -int(CLOCK_SKEW_ALLOWANCE.total_seconds()) - 1, "abandoned"),
        (3, True, 60, "released"),
    ],
    ids=[
        "live-on-latest",
        "newer-version",
        "newer-version-expired",
        "expired-on-latest-within-the-skew-allowance",
        "expired-on-latest",
        "gave-up",
    ],
)
def test_a_lease_state_is_told_by_its_version_and_times(
    latest: int, released: bool, expires_in: int, expected: str
) -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    held = lease.Lease(
        holder="h",
        expires_at=now + timedelta(seconds=expires_in),
        base_version=3,
        taken_at=now - timedelta(minutes=1),
        released_at=now if released else None,
    )
    assert lease.state(held, latest_version=latest, now=now) == expected


def test_a_lease_from_a_runner_ten_minutes_behind_still_counts_as_held() -> None:
    """Runner A, its clock 10 minutes behind, takes the lease; B, on time, must respect it.
    (A clock ahead writes a later expiry, which only makes B wait longer.)"""
    behind = timedelta(minutes=10)
    store = store_with({})
    assert acquire(store, now=NOW - behind).acquired is not None
    assert acquire(store, now=NOW + MINUTE).held_by is not None


def test_a_lease_is_taken_only_when_its_release_record_fits_beside_the_annotations() -> None:
    """A lease whose release the service would refuse stays held until it expires, and the
    Scheduler's retries then skip as if someone were refreshing: so none is taken."""
    store = store_with({})
    outcome = acquire(store)
    release(store, SECRET, outcome, now=NOW, timed_out=True)
    record = store.annotations[LEASE_ANNOTATION]
    room = ANNOTATIONS_MAX_BYTES - len(LEASE_ANNOTATION) - len(record)
    # The user's annotation leaves room for the lease, but not for its largest release record.
    filler = {"owner": "x" * (room - len("owner") + 1)}
    crowded = store_with(filler)
    with pytest.raises(RotationError) as refused:
        acquire(crowded)
    assert refused.value.code is ErrorCode.ANNOTATIONS_TOO_LARGE
    assert SECRET in refused.value.message and "remove at least" in refused.value.message
    assert crowded.annotations == filler, "nothing written"
    # A few bytes fewer and it fits: the check is not a blanket refusal near the limit.
    roomy = store_with({"owner": "x" * (room - len("owner") - 40)})
    assert acquire(roomy).acquired is not None


def test_a_write_limit_hit_in_a_race_for_the_lease_is_a_lost_race_not_a_failure() -> None:
    """24 runs at once can exceed the 2 writes/s per secret before any learns it lost."""
    store = store_with({})
    theirs = lease_json(2, taken=timedelta(0))

    def limited_after_someone_else_won(fake: FakeStore) -> bool:
        fake.annotations[LEASE_ANNOTATION] = theirs
        raise SecretStoreError("quota", code=ErrorCode.SECRET_MANAGER_QUOTA)

    store.on_replace = limited_after_someone_else_won
    outcome = acquire(store)
    assert outcome.acquired is None and outcome.held_by == parse_lease(theirs)


def test_a_write_limit_with_no_other_lease_there_is_still_an_error() -> None:
    store = store_with({})

    def limited(fake: FakeStore) -> bool:
        fake.annotations = {}  # the write never landed
        raise SecretStoreError("quota", code=ErrorCode.SECRET_MANAGER_QUOTA)

    store.on_replace = limited
    with pytest.raises(SecretStoreError):
        acquire(store)


def test_a_write_limit_on_the_retry_of_a_write_that_landed_leaves_the_lease_ours() -> None:
    store = store_with({})

    def landed_then_limited(fake: FakeStore) -> bool:
        raise SecretStoreError("quota", code=ErrorCode.SECRET_MANAGER_QUOTA)

    store.on_replace = landed_then_limited
    outcome = acquire(store)
    assert outcome.acquired is not None and outcome.etag == str(store.etag)
