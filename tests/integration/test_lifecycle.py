"""A key lifecycle that can't be fooled, through both emulators.

- Secret Manager's documented contract: annotation keys we write follow the documented rule;
  old-style keys are read but never written; a lost compare-and-swap is told by status code
  and a re-read, whatever the error message says.
- The key's own expiry (its JWT ``exp``) is the truth, not the document's ``validUntil``.
- The sweep never takes away what someone still reads: aliased versions stay enabled, and every
  field holding the key is rewritten.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.cloud.secretmanager_v1 import SecretManagerServiceClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from rotation.service.lease import LEASE_ANNOTATION
from tests.integration.conftest import World

pytestmark = pytest.mark.reliability

DAY = timedelta(days=1)
# The Secret.annotations docstring in google/cloud/secretmanager_v1/types/resources.py.
DOCUMENTED_ANNOTATION_KEY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
MESSAGES = [None, "the resource moved on", "etag mismatch"]
MESSAGE_IDS = ["default-message", "message-without-etag", "message-with-etag"]


@pytest.fixture
def client(world: World) -> Iterator[SecretManagerServiceClient]:
    """Another party's Secret Manager client, for changes made behind the function's back."""
    channel = grpc.insecure_channel(world.secret_manager.address)
    yield SecretManagerServiceClient(transport=SecretManagerServiceGrpcTransport(channel=channel))
    channel.close()


@pytest.fixture
def precondition_message(world: World) -> Iterator[Callable[[str | None], None]]:
    yield world.secret_manager.set_precondition_message
    world.secret_manager.set_precondition_message(None)


def meanwhile(change: Callable[[], object]) -> threading.Thread:
    """Run ``change`` while the function's next (delayed) call waits."""
    thread = threading.Thread(target=lambda: (time.sleep(0.2), change()))
    thread.start()
    return thread


def lease_json(*, expires_in: timedelta) -> str:
    now = datetime.now(UTC)
    return json.dumps(
        {
            "holder": "an-older-release",
            "expires_at": int((now + expires_in).timestamp()),
            "base_version": 1,
            "taken_at": int((now - DAY).timestamp()),
        }
    )


def seed_sweepable(world: World) -> str:
    """Three healthy versions; v1 and v2 superseded long enough ago to be disabled."""
    secret = world.new_secret()
    for age in (40, 30, 20):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    return secret


# 1. The documented contract


def test_annotations_written_follow_the_documented_key_rule(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)

    assert world.call().only()["action"] == "refreshed"

    annotations = world.secret_manager.annotations(secret)
    assert LEASE_ANNOTATION in annotations
    assert [key for key in annotations if not DOCUMENTED_ANNOTATION_KEY.match(key)] == []


@pytest.mark.parametrize("message", MESSAGES, ids=MESSAGE_IDS)
def test_a_lost_lease_race_refreshes_nothing_whatever_the_message(
    world: World, client: SecretManagerServiceClient, precondition_message, message: str | None
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    precondition_message(message)
    attempts = world.momento.refresh_attempts
    # The function's lease write waits; meanwhile someone else changes the secret's etag.
    world.secret_manager.inject_fault("UpdateSecret", grpc.StatusCode.OK, delay=1.0)
    other = meanwhile(
        lambda: client.update_secret(
            secret={"name": secret, "annotations": {"owner": "payments-team"}},
            update_mask={"paths": ["annotations"]},
        )
    )

    result = world.call().only()
    other.join()

    assert (result["action"], result["error"]) == ("skipped", None)
    assert "took the rotation lease just now" in result["reason"]
    assert world.momento.refresh_attempts == attempts
    assert world.call().only()["action"] == "refreshed", "the next run refreshes"


@pytest.mark.parametrize("message", MESSAGES, ids=MESSAGE_IDS)
def test_a_lost_disable_race_is_not_a_failure_whatever_the_message(
    world: World, client: SecretManagerServiceClient, precondition_message, message: str | None
) -> None:
    secret = seed_sweepable(world)
    precondition_message(message)
    world.secret_manager.inject_fault("DisableSecretVersion", grpc.StatusCode.OK, delay=1.0)
    other = meanwhile(lambda: client.disable_secret_version(name=f"{secret}/versions/1"))

    result = world.call().only()
    other.join()

    assert (result["action"], result["error"]) == ("skipped", None)
    assert [name.rsplit("/", 1)[1] for name in result["disabled_versions"]] == ["2"]
    assert world.states(secret) == {1: "DISABLED", 2: "DISABLED", 3: "ENABLED"}


@pytest.mark.parametrize("message", ["etag mismatch", "Etag does not match", "no reason given"])
def test_a_failed_precondition_that_is_no_conflict_is_reported(world: World, message: str) -> None:
    """The version's etag did not move, so this is not a lost race, whatever the text says."""
    secret = seed_sweepable(world)
    world.secret_manager.inject_fault(
        "DisableSecretVersion", grpc.StatusCode.FAILED_PRECONDITION, message=message
    )

    call = world.call()

    assert call.status == 500
    assert call.only()["error"]["code"] == "failed_precondition"
    assert world.states(secret)[1] == "ENABLED"


# 2. The key's own expiry is the truth


def test_an_expired_key_with_a_future_valid_until_fails_and_sweeps_nothing(world: World) -> None:
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=40 * DAY)
    expired = world.issue(expires_in=-timedelta(hours=1)).console_json()
    expired["validUntil"] = int((datetime.now(UTC) + 30 * DAY).timestamp())
    world.seed(secret, expired, age=20 * DAY)

    call = world.call()

    assert call.status == 500
    assert call.only()["error"]["code"] == "key_expired"
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}, "the working key is kept"


@pytest.mark.parametrize("valid_until", [0, 0.5, "0"], ids=["zero", "fraction", "zero-string"])
def test_a_key_that_expires_tomorrow_is_refreshed_whatever_valid_until_says(
    world: World, valid_until: object
) -> None:
    secret = world.new_secret()
    document = world.issue(expires_in=DAY).console_json()
    document["validUntil"] = valid_until
    world.seed(secret, document)

    result = world.call().only()

    assert result["action"] == "refreshed"
    assert "disagrees with the key's own expiry" in result["reason"]
    stored = world.document(secret)
    new_exp = world.momento.decode_claims(world.momento_jwt(stored))["exp"]
    assert float(stored["validUntil"]) == new_exp, "the next write stores the true value"


def test_a_valid_key_with_a_past_valid_until_is_skipped_not_failed(world: World) -> None:
    secret = world.new_secret()
    document = world.issue(expires_in=20 * DAY).console_json()
    document["validUntil"] = int((datetime.now(UTC) - DAY).timestamp())
    world.seed(secret, document)
    attempts = world.momento.refresh_attempts

    call = world.call()

    assert call.status == 200
    result = call.only()
    assert result["action"] == "skipped"
    assert "disagrees with the key's own expiry" in result["reason"]
    assert world.momento.refresh_attempts == attempts


def test_momento_answering_valid_until_zero_stores_the_keys_real_exp(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    world.momento.report_valid_until(0)

    result = world.call().only()

    assert result["action"] == "refreshed"
    stored = world.document(secret)
    new_exp = world.momento.decode_claims(world.momento_jwt(stored))["exp"]
    assert stored["validUntil"] == new_exp != 0
    again = world.call().only()
    assert "more than 3d from now" in again["reason"], "not 'never expires'"


# 3. The sweep never takes away what someone still reads


def test_a_version_an_alias_points_to_is_never_disabled(world: World) -> None:
    secret = seed_sweepable(world)
    world.secret_manager.set_version_aliases(secret, {"stable": 1})

    result = world.call().only()

    assert (result["action"], result["error"]) == ("skipped", None)
    assert [name.rsplit("/", 1)[1] for name in result["disabled_versions"]] == ["2"]
    (kept,) = result["kept_versions"]
    assert (kept["version"].rsplit("/", 1)[1], kept["aliases"]) == ("1", ["stable"])
    assert world.states(secret) == {1: "ENABLED", 2: "DISABLED", 3: "ENABLED"}


def test_every_field_holding_the_key_is_rewritten(world: World) -> None:
    secret = world.new_secret()
    document = world.issue(expires_in=DAY).console_json()
    document["authToken"] = document["apiKey"]
    world.seed(secret, document)

    assert world.call().only()["action"] == "refreshed"

    stored = world.document(secret)
    assert stored["apiKey"] == stored["authToken"] != document["apiKey"]
