"""ROTATION_LABEL: the function also manages every secret in the project carrying a label."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.integration.conftest import World
from tests.integration.test_rotate_event import by_number, deliver, notification

DAY = timedelta(days=1)


@pytest.fixture
def label(world: World) -> dict[str, str]:
    """A label value of this test's own: the emulator is shared by the whole session."""
    value = f"t-{uuid.uuid4().hex[:8]}"
    world.env["ROTATION_LABEL"] = f"momento-rotation={value}"
    return {"momento-rotation": value}


def test_labelled_secrets_are_rotated_without_being_listed(
    world: World, label: dict[str, str]
) -> None:
    first, second = world.new_secret(labels=label), world.new_secret(labels=label)
    other = world.new_secret(labels={"momento-rotation": "someone-else"})
    for secret in (first, second, other):
        world.seed_key(secret, expires_in=DAY)
    world.env["ROTATION_SECRETS"] = ""

    call = world.call()

    assert call.status == 200
    assert sorted(result["secret"] for result in call.results) == sorted([first, second])
    assert {result["action"] for result in call.results} == {"refreshed"}
    assert world.states(other) == {1: "ENABLED"}


def test_a_secret_both_listed_and_labelled_is_rotated_once(
    world: World, label: dict[str, str]
) -> None:
    listed = world.new_secret(labels=label)
    world.seed_key(listed, expires_in=DAY)
    world.env["ROTATION_SECRETS"] = listed

    call = world.call()

    assert [result["secret"] for result in call.results] == [listed]
    assert world.states(listed) == {1: "ENABLED", 2: "ENABLED"}


def test_a_rotation_event_for_a_labelled_secret_is_acted_on(
    world: World, label: dict[str, str]
) -> None:
    labelled = world.new_secret(labels=label)
    world.seed_key(labelled, expires_in=20 * DAY)
    world.env["ROTATION_SECRETS"] = ""

    delivery = deliver(world, notification(by_number(labelled)))

    assert delivery.status == 200
    assert world.states(labelled) == {1: "ENABLED", 2: "ENABLED"}


def test_no_labelled_secret_is_an_empty_successful_run(world: World, label: dict[str, str]) -> None:
    world.env["ROTATION_SECRETS"] = ""
    call = world.call()
    assert (call.status, call.results) == (200, [])


def test_a_request_may_name_a_configured_secret_by_project_number(world: World) -> None:
    """Secret Manager names it so in every answer: it is the same secret as the configured id."""
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)

    call = world.call({"secrets": [by_number(secret)]})

    assert call.status == 200
    assert [(r["secret"], r["action"]) for r in call.results] == [(secret, "refreshed")]


def test_a_number_for_another_project_is_still_not_configured(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    other = secret.replace("projects/demo-project/", "projects/999999999999/")

    call = world.call({"secrets": [other]})

    assert (call.status, call.body["error"]["code"]) == (403, "secret_not_configured")
    assert world.states(secret) == {1: "ENABLED"}


def test_secrets_named_on_the_command_line_are_exactly_those(
    world: World, label: dict[str, str]
) -> None:
    """A hand rotation of one key must not force every labelled key too."""
    named, also_labelled = world.new_secret(labels=label), world.new_secret(labels=label)
    for secret in (named, also_labelled):
        world.seed_key(secret, expires_in=20 * DAY)

    done = world.run_python("-m", "rotation", "--secrets", named, "--force")

    assert done.returncode == 0, done.stderr
    assert world.states(named) == {1: "ENABLED", 2: "ENABLED"}
    assert world.states(also_labelled) == {1: "ENABLED"}
