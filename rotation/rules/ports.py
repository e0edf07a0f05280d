"""The ports: what the rotation needs from Secret Manager and from Momento.

The orchestration in :mod:`rotation.service.rotate` depends only on these; the adapters in
:mod:`rotation.adapters.secret_store` and :mod:`rotation.adapters.momento_auth` implement them.
Keeping them apart from the adapters also keeps the adapters' heavy imports off the start-up path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from momento_key_common.token import ApiKey, RefreshedKey
from rotation.rules.retention import VersionInfo


@dataclass(frozen=True, repr=False)
class StoredVersion:
    """A version's payload. ``repr`` leaves the payload out so it can't be logged by accident."""

    name: str
    number: int
    data: bytes

    def __repr__(self) -> str:
        return f"StoredVersion(name={self.name!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class SecretMetadata:
    """The secret resource itself: annotations (the lease), etag, version aliases, expiry.

    Read once per rotation (GetSecret), for everything that needs it.
    """

    annotations: Mapping[str, str]
    etag: str
    # alias -> version number: consumers may read a version by alias, so it must stay enabled
    version_aliases: Mapping[str, int] = field(default_factory=dict)
    # The name as the service returns it (with the project number): how an id maps to a number.
    name: str = ""
    # When Secret Manager deletes the whole secret, every version with it (Secret.expire_time).
    expire_time: datetime | None = None
    # When Secret Manager next publishes SECRET_ROTATE (rotation.next_rotation_time), if it does.
    next_rotation_time: datetime | None = None
    # How many locations each version is billed in (automatic replication counts as one).
    billed_locations: int = 1


class DestroyOutcome(Enum):
    DESTROYED = "destroyed"
    SCHEDULED = "scheduled"  # the secret's version_destroy_ttl delays it


class SecretStore(Protocol):
    """What the rotation needs from Secret Manager."""

    def read_latest(self, secret: str) -> StoredVersion: ...

    def list_labelled(self, parent: str, key: str, value: str) -> list[str]:
        """Every secret under ``parent`` (``projects/P``, or ``projects/P/locations/L`` for a
        location's regional secrets) whose label ``key`` is ``value``, as the service names
        them (with the project number)."""
        ...

    def add_version(self, secret: str, data: bytes) -> str: ...

    def list_versions(self, secret: str) -> list[VersionInfo]:
        """Every version but the destroyed ones, any order."""
        ...

    def disable(self, version: VersionInfo, *, deadline: timedelta) -> None:
        """Disable ``version`` if unchanged since it was listed, retrying until ``deadline``.

        Raises ConflictError when the version changed meanwhile (a concurrent sweep).
        """
        ...

    def destroy(self, version: VersionInfo, *, deadline: timedelta) -> DestroyOutcome:
        """Destroy (or, with version_destroy_ttl, schedule the destruction of) ``version`` if
        unchanged since it was listed. Raises ConflictError when it changed meanwhile."""
        ...

    def get_metadata(self, secret: str) -> SecretMetadata: ...

    def get_version(self, name: str) -> VersionInfo:
        """A version's metadata (state, create time), never its payload; ``name`` may end in
        ``versions/latest``."""
        ...

    def replace_annotations(
        self, secret: str, annotations: Mapping[str, str], etag: str
    ) -> str | None:
        """Compare-and-swap the secret's annotations; the secret's new etag, None when ``etag``
        is stale. (The new etag lets the writer write again without reading the secret first.)

        Staleness is told by status code and confirmed by re-reading the secret's etag, never by
        the wording of an error message.
        """
        ...


def version_number(name: str) -> int:
    """The number at the end of ``projects/P/secrets/S/versions/N``."""
    return int(name.rsplit("/", 1)[1])


class Verification(Enum):
    """What a cheap authenticated call says about a freshly stored key."""

    AUTHENTICATES = "authenticates"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # the check could not be made (Momento unavailable, timeout)


class KeyRefresher(Protocol):
    """What the rotation needs from Momento."""

    def refresh(self, key: ApiKey, refresh_token: str) -> RefreshedKey: ...

    def verify(self, key: ApiKey) -> Verification: ...
