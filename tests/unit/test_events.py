"""Secret Manager notifications parsed from Eventarc's event data, and secret identity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rotation.rules.events import EventError, parse_event
from rotation.rules.identity import ProjectNumbers, configured_for

SECRET = "projects/123456789012/secrets/momento-key"


def data(**attributes: Any) -> dict[str, Any]:
    return {
        "message": {
            "attributes": {"eventType": "SECRET_ROTATE", "secretId": SECRET, **attributes},
            "messageId": "42",
            "publishTime": "2026-12-02T10:00:00.123456789Z",
        }
    }


def test_a_rotation_notification() -> None:
    event = parse_event(data())
    assert (event.event_type, event.secret, event.is_rotation) == ("SECRET_ROTATE", SECRET, True)
    assert event.published_at == datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)


def test_the_test_message_has_no_secret() -> None:
    event = parse_event({"message": {"attributes": {"eventType": "TOPIC_CONFIGURED"},
                                     "publishTime": "2026-12-02T10:00:00Z"}})  # fmt: skip
    assert (event.secret, event.is_rotation) == (None, False)


@pytest.mark.parametrize(
    ("event_data", "names"),
    [
        (None, "the event data"),
        ({}, "data.message"),
        ({"message": {"attributes": []}}, "data.message.attributes"),
        (data(eventType=""), "eventType is missing"),
        (data(secretId=None), "secretId is missing"),
        (data(secretId="projects/p/secrets/a/b"), "is not a secret name"),
        ({"message": {**data()["message"], "publishTime": "yesterday"}}, "publishTime"),
        ({"message": {**data()["message"], "publishTime": "2026-12-02T10:00:00"}}, "publishTime"),
    ],
    ids=["none", "no-message", "attributes-list", "no-type", "no-secret", "bad-secret",
         "bad-time", "time-without-zone"],
)  # fmt: skip
def test_malformed_events_are_named(event_data: object, names: str) -> None:
    with pytest.raises(EventError, match=names):
        parse_event(event_data)


CONFIGURED = ("projects/my-project/secrets/momento-key", "projects/my-project/secrets/other")


@pytest.mark.parametrize(
    ("named", "expected", "lookups"),
    [
        ("projects/123456789012/secrets/momento-key", CONFIGURED[0], 1),
        ("projects/my-project/secrets/momento-key", CONFIGURED[0], 0),
        ("projects/999999999999/secrets/momento-key", None, 1),
        ("projects/123456789012/secrets/unknown", None, 0),
    ],
    ids=["number-matches-id", "same-id", "another-project", "another-secret"],
)
def test_an_event_names_a_configured_secret_by_number(
    named: str, expected: str | None, lookups: int
) -> None:
    asked: list[str] = []

    def lookup(name: str) -> str:
        asked.append(name)
        return name.replace("my-project", "123456789012") + "/versions/3"

    numbers = ProjectNumbers()
    assert configured_for(named, CONFIGURED, numbers, lookup) == expected
    assert len(asked) == lookups
    # Learned once per instance: asking again costs nothing.
    assert configured_for(named, CONFIGURED, numbers, lookup) == expected
    assert len(asked) == lookups


def _with_data(resource: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    event = data(eventType="SECRET_VERSION_DISABLE", **attributes)
    event["message"]["data"] = base64.b64encode(json.dumps(resource).encode()).decode()
    return event


@pytest.mark.parametrize(
    ("event_data", "version"),
    [
        (data(eventType="SECRET_VERSION_DISABLE", versionId=f"{SECRET}/versions/7"), 7),
        (_with_data({"name": f"{SECRET}/versions/8", "state": "DISABLED"}), 8),
        (_with_data({"name": "projects/1/secrets/other/versions/9"}), None),
        (data(eventType="SECRET_VERSION_DISABLE", versionId="garbage"), None),
        (data(eventType="SECRET_DELETE"), None),
    ],
    ids=["version-id", "data-name", "another-secret-s-version", "garbage", "not-a-version-event"],
)
def test_a_version_event_names_its_version(event_data: dict[str, Any], version: int | None) -> None:
    assert parse_event(event_data).version == version


@pytest.mark.parametrize(
    ("event_type", "loses"),
    [
        ("SECRET_VERSION_DISABLE", True),
        ("SECRET_VERSION_DESTROY", True),
        ("SECRET_VERSION_ENABLE", False),
        ("SECRET_VERSION_ADD", False),
    ],
)
def test_which_version_events_lose_a_version(event_type: str, loses: bool) -> None:
    assert parse_event(data(eventType=event_type)).loses_a_version is loses
