"""Old versions cost money: DESTROY_AFTER destroys disabled ones after a second window.

Through the emulators, which model DESTROYED (payload gone, access refused) and delayed
destruction (version_destroy_ttl: the version stays DISABLED with a scheduled_destroy_time).
A version's retention is counted from its successor's create time plus RETENTION.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.integration.conftest import World

DAY = timedelta(days=1)


def superseded_chain(world: World, secret: str, *days_ago: int) -> None:
    """Disabled versions superseded ``days_ago`` (oldest first), then a healthy latest key."""
    ages = [days_ago[0] + 1, *days_ago]
    for index, age in enumerate(ages):
        latest = index == len(ages) - 1
        world.seed(
            secret,
            world.issue(expires_in=20 * DAY).console_json(),
            age=age * DAY,
            state="ENABLED" if latest else "DISABLED",
        )


def configure(world: World, secret: str, **env: str) -> None:
    world.configure(ROTATION_SECRETS=secret, RETENTION="7d", **env)


def test_disabled_versions_past_retention_plus_destroy_after_are_destroyed(world: World) -> None:
    """RETENTION=7d, DESTROY_AFTER=30d: superseded 400 and 50 days ago go; 20 days ago stays."""
    secret = world.new_secret()
    superseded_chain(world, secret, 400, 50, 20)
    configure(world, secret, DESTROY_AFTER="30d")

    call = world.call()

    result = call.only()
    assert (call.status, result["action"], result["severity"]) == (200, "skipped", "INFO")
    assert [name.rsplit("/", 1)[1] for name in result["destroyed_versions"]] == ["1", "2"]
    assert world.states(secret) == {1: "DESTROYED", 2: "DESTROYED", 3: "DISABLED", 4: "ENABLED"}
    assert world.secret_manager.payload(secret, 1) is None, "the payload is gone"


def test_an_aliased_version_and_the_latest_stay(world: World) -> None:
    secret = world.new_secret()
    superseded_chain(world, secret, 400, 300)
    world.secret_manager.set_version_aliases(secret, {"stable": 1})
    configure(world, secret, DESTROY_AFTER="30d")

    world.call()

    assert world.states(secret) == {1: "DISABLED", 2: "DESTROYED", 3: "ENABLED"}


def test_with_destroy_after_off_nothing_is_destroyed(world: World) -> None:
    secret = world.new_secret()
    superseded_chain(world, secret, 400, 50)
    configure(world, secret)

    result = world.call().only()

    assert result["destroyed_versions"] == []
    assert world.states(secret) == {1: "DISABLED", 2: "DISABLED", 3: "ENABLED"}


def test_a_dry_run_lists_what_it_would_destroy(world: World) -> None:
    secret = world.new_secret()
    superseded_chain(world, secret, 400)
    configure(world, secret, DESTROY_AFTER="30d")

    result = world.call({"dry_run": True}).only()

    assert result["destroyed_versions"] == [
        f"{secret.replace('demo-project', _number())}/versions/1"
    ]
    assert "would destroy 1 disabled version(s)" in result["reason"]
    assert world.states(secret) == {1: "DISABLED", 2: "ENABLED"}


def test_delayed_destruction_is_asked_once_and_reported_as_scheduled(world: World) -> None:
    secret = world.new_secret()
    superseded_chain(world, secret, 400)
    world.secret_manager.set_version_destroy_ttl(secret, timedelta(days=1))
    configure(world, secret, DESTROY_AFTER="30d")
    asked = world.secret_manager.calls["DestroySecretVersion"]

    first = world.call().only()
    second = world.call().only()

    assert world.secret_manager.calls["DestroySecretVersion"] == asked + 1, "asked once"
    for result in (first, second):
        assert result["destroyed_versions"] == []
        assert [v.rsplit("/", 1)[1] for v in result["destroy_scheduled_versions"]] == ["1"]
    assert world.states(secret) == {1: "DISABLED", 2: "ENABLED"}, "DISABLED until its time"


def test_a_backlog_of_300_disabled_versions_is_cleared_over_runs_with_no_failed_run(
    world: World,
) -> None:
    secret = world.new_secret()
    superseded_chain(world, secret, *range(700, 400, -1))
    configure(world, secret, DESTROY_AFTER="30d", SECRET_MANAGER_WRITES_PER_MINUTE="1200")
    statuses: list[int] = []
    for _ in range(20):
        call = world.call()
        statuses.append(call.status)
        if not call.only()["attention"]:
            break

    states = world.states(secret)
    assert set(statuses) == {200}, "housekeeping never fails a run"
    assert list(states.values()).count("DESTROYED") == 300
    assert len(statuses) > 1, "a backlog takes more than one run's sweep budget"


def test_status_carries_the_counts_and_the_cost(world: World) -> None:
    secret = world.new_secret()
    superseded_chain(world, secret, 400, 50, 20)

    done = world.run_python(
        "-m", "rotation", "status", secret, "--json", ROTATION_SECRETS="", RETENTION="7d"
    )
    with_on = world.run_python(
        "-m",
        "rotation",
        "status",
        secret,
        "--json",
        ROTATION_SECRETS="",
        RETENTION="7d",
        DESTROY_AFTER="30d",
    )

    (off,) = json.loads(done.stdout)["secrets"]
    (on,) = json.loads(with_on.stdout)["secrets"]
    cost: dict[str, Any] = off["cost"]
    assert (cost["billed_versions"], cost["billed_locations"]) == (4, 1)
    assert cost["monthly_usd"] == "0.24"
    assert cost["with_destroy_after"] == {
        "destroy_after": "30d",
        "billed_versions": 2,
        "billed_locations": 1,
        "monthly_usd": "0.12",
    }
    assert [v.rsplit("/", 1)[1] for v in on["cost"]["next_sweep_destroys"]] == ["1", "2"]


def _number() -> str:
    from devtools.emulators.secret_manager import project_number  # noqa: PLC0415

    return project_number("demo-project")
