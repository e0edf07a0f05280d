"""The refresh decision: when to refresh, when to skip, when to refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from momento_key_common.errors import NotRefreshableError
from momento_key_common.token import parse_document
from rotation.rules.policy import decide
from tests import keys

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=3)


def document_expiring_in(delta: timedelta | None, key: str | None = None):
    valid_until = None if delta is None else int((NOW + delta).timestamp())
    return parse_document(keys.document(apiKey=key or keys.v1_key(), validUntil=valid_until or 0))


def at(delta: timedelta) -> int:
    return int((NOW + delta).timestamp())


@pytest.mark.parametrize(
    ("expires_in", "force", "refresh", "reason"),
    [
        (timedelta(days=10), False, False, "more than 3d from now"),
        (timedelta(days=3, seconds=1), False, False, "more than 3d from now"),
        (timedelta(days=3), False, True, "within 3d"),
        (timedelta(hours=1), False, True, "within 3d"),
        (timedelta(days=10), True, True, "forced"),
        (None, False, False, "never expires"),
        (None, True, False, "never expires"),
    ],
    ids=["far", "just-outside", "at-window", "soon", "forced", "never", "never-forced"],
)
def test_refresh_decision(
    expires_in: timedelta | None, force: bool, refresh: bool, reason: str
) -> None:
    decision = decide(document_expiring_in(expires_in), now=NOW, refresh_before=WINDOW, force=force)
    assert decision.refresh is refresh
    assert reason in decision.reason


@pytest.mark.parametrize("force", [False, True])
def test_expired_key_must_be_replaced_by_hand(force: bool) -> None:
    with pytest.raises(NotRefreshableError, match="refuses to refresh an expired key") as caught:
        decide(
            document_expiring_in(-timedelta(seconds=1)), now=NOW, refresh_before=WINDOW, force=force
        )
    assert caught.value.code == "key_expired"


@pytest.mark.parametrize(
    ("key_expires_in", "valid_until", "refresh", "reason"),
    [
        # validUntil says far away, the key itself expires soon: refresh.
        (timedelta(hours=5), at(timedelta(days=30)), True, "within 3d"),
        # validUntil says never (0, or a fraction), the key expires tomorrow: refresh.
        (timedelta(days=1), 0, True, "within 3d"),
        (timedelta(days=1), 0.25, True, "within 3d"),
        # validUntil in the past, the key is valid for weeks: skip, not "expired".
        (timedelta(days=20), at(-timedelta(days=1)), False, "more than 3d"),
    ],
    ids=["valid-until-later", "valid-until-zero", "valid-until-fraction", "valid-until-past"],
)
def test_the_decision_follows_the_keys_own_exp(
    key_expires_in: timedelta, valid_until: object, refresh: bool, reason: str
) -> None:
    document = parse_document(
        keys.document(apiKey=keys.v1_key(exp=at(key_expires_in)), validUntil=valid_until)
    )
    decision = decide(document, now=NOW, refresh_before=WINDOW, force=False)
    assert (decision.refresh, reason in decision.reason) == (refresh, True)


def test_an_expired_key_is_refused_even_when_valid_until_says_otherwise() -> None:
    document = parse_document(
        keys.document(
            apiKey=keys.v1_key(exp=at(-timedelta(hours=1))), validUntil=at(timedelta(days=30))
        )
    )
    with pytest.raises(NotRefreshableError, match="expired"):
        decide(document, now=NOW, refresh_before=WINDOW, force=False)


def test_a_key_that_would_die_before_the_next_run_is_due_whatever_refresh_before_says() -> None:
    """A weekly job and REFRESH_BEFORE=3d: a key with 4 days left must be refreshed now."""
    from rotation.rules.schedule import CronSchedule, next_run  # noqa: PLC0415

    now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # a Monday's run
    upcoming = next_run(CronSchedule("0 3 * * 1"), None, now=now)
    four_days = parse_document(
        keys.document(apiKey=keys.v1_key(exp=int((now + timedelta(days=4)).timestamp())))
    )
    decision = decide(
        four_days, now=now, refresh_before=timedelta(days=3), force=False, next_run=upcoming
    )
    assert decision.refresh
    assert "before the next run could refresh it" in decision.reason
    assert "ROTATION_SCHEDULE '0 3 * * 1'" in decision.reason


@pytest.mark.parametrize(
    ("lifetime", "sparse"),
    [(timedelta(hours=12), True), (timedelta(days=1), True), (timedelta(days=30), False)],
    ids=["12h-key", "1d-key", "30d-key"],
)
def test_a_daily_schedule_cannot_keep_keys_alive_that_live_a_day_or_less(
    lifetime: timedelta, sparse: bool
) -> None:
    from rotation.rules.policy import schedule_too_sparse  # noqa: PLC0415
    from rotation.rules.schedule import CronSchedule, next_run  # noqa: PLC0415

    now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    upcoming = next_run(CronSchedule("0 3 * * *"), None, now=now)
    why = schedule_too_sparse("projects/p/secrets/s", lifetime, upcoming, now=now)
    assert (why is not None) is sparse
    if why:
        assert "Run more often" in why and "live longer" in why
