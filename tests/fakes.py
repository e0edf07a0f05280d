"""In-memory stand-ins for the ports, for unit tests of the orchestration.

They hold state and answer like the services do; tests assert on that final state, never on
which calls were made. The emulators cover the real wire protocols elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from momento_key_common.errors import ErrorCode, SecretStoreError
from momento_key_common.token import ApiKey, RefreshedKey
from rotation.rules.ports import DestroyOutcome, SecretMetadata, StoredVersion, Verification
from rotation.rules.retention import VersionInfo


@dataclass
class FakeVersion:
    data: bytes
    create_time: datetime
    state: str = "ENABLED"


@dataclass
class FakeStore:
    """One secret's versions and annotations, kept in memory."""

    secret: str
    versions: list[FakeVersion] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    version_aliases: dict[str, int] = field(default_factory=dict)
    etag: int = 1
    expire_time: datetime | None = None
    # Hooks that let a test make a call fail the way a service might.
    on_add: Callable[[bytes], None] | None = None
    on_replace: Callable[[FakeStore], bool] | None = None

    def name(self, number: int) -> str:
        return f"{self.secret}/versions/{number}"

    def read_latest(self, secret: str) -> StoredVersion:
        number = len(self.versions)
        version = self.versions[-1]
        if version.state != "ENABLED":
            raise SecretStoreError("not enabled", code=ErrorCode.LATEST_VERSION_NOT_ENABLED)
        return StoredVersion(self.name(number), number, version.data)

    def list_labelled(self, parent: str, key: str, value: str) -> list[str]:
        return []  # one secret, found by name: the discovery tests use the emulator

    def add_version(self, secret: str, data: bytes) -> str:
        if self.on_add is not None:
            self.on_add(data)
        self.versions.append(FakeVersion(data, datetime.now(UTC)))
        return self.name(len(self.versions))

    def list_versions(self, secret: str) -> list[VersionInfo]:
        return [
            VersionInfo(self.name(number), number, version.create_time, state=version.state)
            for number, version in enumerate(self.versions, start=1)
            if version.state != "DESTROYED"
        ]

    def disable(self, version: VersionInfo, *, deadline: timedelta) -> None:
        self.versions[version.number - 1].state = "DISABLED"

    def destroy(self, version: VersionInfo, *, deadline: timedelta) -> DestroyOutcome:
        self.versions[version.number - 1].state = "DESTROYED"
        return DestroyOutcome.DESTROYED

    def get_metadata(self, secret: str) -> SecretMetadata:
        return SecretMetadata(
            dict(self.annotations),
            str(self.etag),
            dict(self.version_aliases),
            name=self.secret,
            expire_time=self.expire_time,
        )

    def get_version(self, name: str) -> VersionInfo:
        number = len(self.versions) if name.endswith("/latest") else int(name.rsplit("/", 1)[1])
        version = self.versions[number - 1]
        return VersionInfo(self.name(number), number, version.create_time, state=version.state)

    def replace_annotations(
        self, secret: str, annotations: Mapping[str, str], etag: str
    ) -> str | None:
        if etag != str(self.etag):
            return None
        self.annotations = dict(annotations)
        self.etag += 1
        if self.on_replace is not None and not self.on_replace(self):
            return None
        return str(self.etag)

    def states(self) -> list[str]:
        return [version.state for version in self.versions]


@dataclass
class FakeRefresher:
    """Answers every refresh with ``answer``; counts the refreshes Momento would have made."""

    answer: RefreshedKey
    verification: Verification = Verification.AUTHENTICATES
    refreshes: int = 0

    def refresh(self, key: ApiKey, refresh_token: str) -> RefreshedKey:
        self.refreshes += 1
        return self.answer

    def verify(self, key: ApiKey) -> Verification:
        return self.verification
