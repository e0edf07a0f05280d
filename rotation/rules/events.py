"""Secret Manager's Pub/Sub notifications, as the ``rotate_event`` CloudEvent function gets them.

Pure: takes the CloudEvent's ``data`` (a ``google.cloud.pubsub.topic.v1.messagePublished``
event, whose ``message`` is the Pub/Sub message Secret Manager published) and returns a typed
:class:`SecretEvent`, or raises :class:`EventError` naming what is missing. Nothing here reads
the message's ``data`` (the Secret resource as JSON): the attributes say everything needed.

Message shape, from Secret Manager's "Set up notifications on a secret" page: attributes
``eventType`` (``SECRET_ROTATE``, ``SECRET_VERSION_ADD``, ...), ``secretId`` (the secret's full
name, with the project NUMBER), ``versionId`` (the version's full name, on version events),
``dataFormat``; ``data`` is the Secret or SecretVersion resource as JSON. ``TOPIC_CONFIGURED`` is
a test message that carries no other attribute and no data. ``publishTime`` is Pub/Sub's, in
RFC 3339. The events that matter here:

- ``SECRET_ROTATE``: the secret's rotation schedule came due; rotate it.
- ``SECRET_DELETE``: the secret is gone, every version with it ("either because of a
  user-initiated request or secret expiration").
- ``SECRET_VERSION_DISABLE`` / ``SECRET_VERSION_DESTROY``: a version can no longer be read. The
  version is named by ``versionId``, or else by the ``name`` in ``data``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from momento_key_common.errors import ErrorCode, RotationError
from momento_key_common.names import FULL_SECRET_NAME

ROTATE = "SECRET_ROTATE"
DELETE = "SECRET_DELETE"
# Version events after which the version can no longer be accessed.
VERSION_LOST = frozenset({"SECRET_VERSION_DISABLE", "SECRET_VERSION_DESTROY"})
_VERSION_NAME = re.compile(rf"{FULL_SECRET_NAME.pattern}/versions/(?P<version>[0-9]+)")


class EventError(RotationError):
    """The event is not a Secret Manager notification we can act on. Redelivery won't help."""

    code = ErrorCode.INVALID_EVENT


@dataclass(frozen=True)
class SecretEvent:
    event_type: str
    secret: str | None  # projects/NUMBER/secrets/ID; None for TOPIC_CONFIGURED
    published_at: datetime
    version: int | None = None  # the version number, on a version event that names one
    # The secret's labels, as the Secret resource in ``data`` carries them (secret events): how
    # a deleted secret that was managed by ROTATION_LABEL is still recognised.
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_rotation(self) -> bool:
        return self.event_type == ROTATE

    @property
    def loses_a_version(self) -> bool:
        return self.event_type in VERSION_LOST


def parse_event(data: object) -> SecretEvent:
    """The Secret Manager notification inside a messagePublished CloudEvent's ``data``."""
    message = _mapping(_mapping(data, "the event data").get("message"), "data.message")
    attributes = _mapping(message.get("attributes", {}), "data.message.attributes")
    event_type = _text(attributes.get("eventType"), "data.message.attributes.eventType")
    published_at = _time(message.get("publishTime"))
    if event_type == "TOPIC_CONFIGURED":
        return SecretEvent(event_type, None, published_at)
    secret = _text(attributes.get("secretId"), "data.message.attributes.secretId")
    if not FULL_SECRET_NAME.fullmatch(secret):
        raise EventError(
            f"data.message.attributes.secretId {secret[:300]!r} is not a secret name "
            "(projects/PROJECT/secrets/SECRET, or projects/PROJECT/locations/LOCATION/secrets/"
            "SECRET); is this topic fed by Secret Manager?"
        )
    resource = _resource(message.get("data"))
    version = _version(attributes.get("versionId"), resource.get("name"), secret)
    labels = resource.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    text_labels = {str(k): str(v) for k, v in labels.items() if isinstance(v, str)}
    return SecretEvent(event_type, secret, published_at, version, text_labels)


def _version(version_id: object, data_name: object, secret: str) -> int | None:
    """The version number a version event names: ``versionId``, or the ``name`` of the
    SecretVersion in ``data``; None when neither names a version of ``secret``."""
    for candidate in (version_id, data_name):
        if isinstance(candidate, str):
            match = _VERSION_NAME.fullmatch(candidate)
            if match is not None and candidate.startswith(f"{secret}/"):
                return int(match["version"])
    return None


def _resource(data: object) -> dict[str, Any]:
    """The Secret or SecretVersion in the message's base64 JSON data; {} when there is none."""
    if not isinstance(data, str):
        return {}
    try:
        resource = json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return {}
    return resource if isinstance(resource, dict) else {}


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EventError(
            f"{where} is missing or not an object; this function expects the "
            "google.cloud.pubsub.topic.v1.messagePublished CloudEvent of a Secret Manager "
            "notification"
        )
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise EventError(
            f"{where} is missing; this function expects a Secret Manager notification "
            "(configure the secret's topics and rotation with deploy.sh --rotation-period)"
        )
    return value


def _time(value: object) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    raise EventError(
        "data.message.publishTime is missing or not an RFC 3339 time with a zone; "
        "it is needed to tell a redelivery from a new rotation"
    )
