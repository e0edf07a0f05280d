"""The emulator's state: secrets and their versions, etags, the service clock, and the
Secret/SecretVersion messages the RPCs answer with.

``SecretStore.lock`` guards all of it (see ``SecretManagerEmulator``); the methods below expect
the caller to hold it. A secret's expiry and a version's scheduled destruction happen lazily, on
the first access after their time by the injectable ``clock``. Rows of the rule table (its
sources and status codes: see the package docstring):

| rule | source | test |
|---|---|---|
| etag mismatch on UpdateSecret, DeleteSecret, Enable/Disable/DestroySecretVersion is FAILED_PRECONDITION | "Use entity tags for optimistic concurrency control"; service.py *Request.etag | test_update_secret_with_a_stale_etag_is_failed_precondition, test_delete_secret_with_a_stale_etag_is_failed_precondition, test_state_change_with_a_stale_etag_is_failed_precondition |
| an omitted etag skips the check | "Use entity tags for optimistic concurrency control"; service.py *Request.etag | test_update_secret_changes_the_etag, test_each_state_change_gives_a_new_etag |
| every successful update gets a new etag, even one that changes nothing | "Use entity tags for optimistic concurrency control" | test_updates_that_change_nothing_still_get_a_new_etag, test_enabling_an_enabled_version_gets_a_new_etag |
| a version change (add included) leaves the secret's etag alone, and vice versa | "Use entity tags for optimistic concurrency control" | test_version_changes_leave_the_secret_etag_alone, test_secret_updates_leave_version_etags_alone |
| etag-mismatch message wording is not contract: the default avoids "etag", `set_precondition_message` replaces it | "Use entity tags for optimistic concurrency control" (names the code only) | test_the_default_precondition_message_does_not_mention_etags, test_set_precondition_message_replaces_every_etag_mismatch_message |
| unknown: malformed (e.g. unquoted) etag; anything but the current etag is FAILED_PRECONDITION | (none) | test_any_etag_but_the_current_one_is_failed_precondition |
| a scheduled version is destroyed once the emulator clock is past its `scheduled_destroy_time`: DESTROYED (final), payload gone, access FAILED_PRECONDITION | resources.py SecretVersion.scheduled_destroy_time ("Version is destroyed only after the scheduled_destroy_time"); "Delay destruction of secret versions" ("After the delay period expires, the secret version is permanently and irrevocably destroyed") | test_a_scheduled_version_is_destroyed_once_its_time_has_passed |
| unknown: how soon after that time the service destroys, and what the destroyed version carries; we destroy on the first access after it (lazily, like expiry), with `destroy_time` = `scheduled_destroy_time`, `scheduled_destroy_time` kept, and a new etag | (none) | test_a_scheduled_version_is_destroyed_once_its_time_has_passed |
| `latest` is the most recently created version, whatever its state | service.py GetSecretVersionRequest.name, AccessSecretVersionRequest.name | test_latest_is_the_newest_version_whatever_its_state |
| version aliases resolve on GetSecretVersion and AccessSecretVersion; GetSecret returns them | resources.py Secret.version_aliases | test_version_aliases_resolve, test_get_secret_returns_version_aliases_and_get_version_resolves_them |
| input only fields (rotation_period, ttl, tags) are not returned; ttl sets expire_time | resources.proto INPUT_ONLY; resources.py Secret.expire_time ("always provided on output") | test_input_only_fields_are_not_returned |
| at its expire_time a secret is deleted with all its versions: every RPC on it is NOT_FOUND, ListSecrets leaves it out (and out of total_size), and its id can be created anew, without the old versions | "Set an expiration date for a secret" ("At a secret's configured expiration time, it is automatically deleted"; "When a secret expires in Secret Manager, it is irreversibly deleted"); googleapis resources.proto, oneof expiration ("the Secret and all SecretVersions will be automatically deleted at expiration") | test_at_its_expire_time_a_secret_is_deleted_with_its_versions, test_list_secrets_leaves_out_expired_secrets, test_an_expired_secret_id_can_be_created_again_without_the_old_versions |
| unknown: how soon after expire_time the service deletes; we delete at that instant (lazily, on the first access at or after it) | (none) | test_at_its_expire_time_a_secret_is_deleted_with_its_versions |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

import collections
import itertools
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.cloud import secretmanager_v1

from devtools.emulators.secret_manager import quotas
from devtools.emulators.secret_manager.errors import (
    EmulatorError,
    invalid,
    not_found,
    precondition,
)
from devtools.emulators.secret_manager.names import Key, NameParser
from devtools.emulators.secret_manager.rules import kms_keys

STATES = ("ENABLED", "DISABLED", "DESTROYED")
State = str  # one of STATES; kept as text because the test hooks speak text

_DEFAULT_PRECONDITION_MESSAGE = (
    "{resource} has been modified since the copy this request was based on was read."
)


@dataclass
class Version:
    number: int
    state: State
    data: bytes | None
    create_time: datetime
    etag: str
    client_checksum: bool = False
    destroy_time: datetime | None = None
    # Set while a destroy waits out the secret's version_destroy_ttl (the version is DISABLED).
    scheduled_destroy_time: datetime | None = None
    # The CMEK keys its payload was encrypted with: the secret's when the version was added
    # (documented: encryption changes "do not apply retroactively to existing SecretVersions").
    kms_keys: frozenset[str] = frozenset()
    # time.monotonic() of the Enable/Disable/Destroy calls admitted in the last minute.
    state_changes: collections.deque[float] = field(default_factory=collections.deque)


@dataclass
class SecretRecord:
    meta: Any  # secretmanager_v1.Secret, holding name (with project number), etag, labels...
    sequence: int  # creation order: ties in create_time list newest-created first
    key: Key  # project number, location (None: global) and id
    versions: dict[int, Version] = field(default_factory=dict)
    next_version: int = 1
    # time.monotonic() of the AddSecretVersion/UpdateSecret calls admitted in the last minute.
    writes: collections.deque[float] = field(default_factory=collections.deque)


class SecretStore:
    """Every secret the emulator holds, and the operations RPCs and test hooks build on.

    ``clock`` is the service's wall clock (create times, rotation and expiration). ``monotonic``
    times the write rate limits, which apply while ``rate_limits`` is true.
    """

    def __init__(
        self,
        *,
        project_numbers: Mapping[str, str] | None,
        clock: Callable[[], datetime],
        rate_limits: bool,
        monotonic: Callable[[], float],
    ) -> None:
        self.names = NameParser(project_numbers)
        self._clock = clock
        # Rate limits count real elapsed time, not the service clock that tests freeze or move.
        self.rate_limits = rate_limits
        self._monotonic = monotonic
        # Cloud KMS keys (CryptoKey names) made unusable by set_kms_key_enabled.
        self.unusable_kms_keys: set[str] = set()
        self.lock = threading.Lock()
        self.secrets: dict[Key, SecretRecord] = {}
        self._secret_sequence = itertools.count()
        # A per-instance salt keeps etags from one emulator from matching another's.
        self._etag_salt = secrets.token_hex(4)
        self._etag_counter = itertools.count(1)
        # The etag-mismatch message (set_precondition_message); None: the default.
        self.precondition_message: str | None = None

    # -- lookups -----------------------------------------------------------------------------

    def secret(self, name: str) -> SecretRecord:
        return self.record(self.names.secret_key(name))

    def record(self, key: Key) -> SecretRecord:
        record = self._live(key)
        if record is None:
            raise not_found(f"Secret [{key.name}] not found.")
        return record

    def _live(self, key: Key) -> SecretRecord | None:
        """The secret stored at ``key``, unless it has expired. Upstream a secret is deleted
        with its versions at its expiration time; the emulator does that lazily, on the first
        access after it (caller holds the lock)."""
        record = self.secrets.get(key)
        if record is not None and self._expired(record):
            del self.secrets[key]
            return None
        if record is not None:
            self._destroy_due_versions(record)
        return record

    def _expired(self, record: SecretRecord) -> bool:
        # Short-circuits, so secrets without an expiration never consult the clock.
        return "expire_time" in record.meta and self.now() >= record.meta.expire_time

    def _destroy_due_versions(self, record: SecretRecord) -> None:
        """Destroy the versions whose scheduled_destroy_time has passed. Upstream that happens
        at the time; the emulator does it lazily, on the first access of the secret after it
        (caller holds the lock). The version keeps its scheduled_destroy_time, its destroy_time
        is the scheduled time, and it gets a new etag."""
        due = [
            (version, when)
            for version in record.versions.values()
            if (when := version.scheduled_destroy_time) is not None and version.state == "DISABLED"
        ]
        if not due:
            return  # so versions without a schedule never consult the clock
        now = self.now()
        for version, when in due:
            if now > when:  # "Version is destroyed only after the scheduled_destroy_time"
                version.state = "DESTROYED"
                version.data = None
                version.destroy_time = when
                version.etag = self.new_etag()

    def drop_expired(self) -> None:
        for key in [key for key, record in self.secrets.items() if self._expired(record)]:
            del self.secrets[key]

    @staticmethod
    def version_name(record: SecretRecord, version: Version) -> str:
        return f"{record.meta.name}/versions/{version.number}"

    def resolve(self, record: SecretRecord, version_id: str, *, aliases: bool = True) -> Version:
        """The version ``version_id`` names: a number, or with ``aliases`` also ``latest`` or
        a version alias (documented for GetSecretVersion and AccessSecretVersion only)."""
        if not aliases and not version_id.isdigit():
            raise invalid(
                f"Secret Version [{record.meta.name}/versions/{version_id}]: this call takes "
                "a version number, not 'latest' or an alias."
            )
        if version_id == "latest":
            if not record.versions:
                raise not_found(f"Secret [{record.meta.name}] not found or has no versions.")
            return record.versions[max(record.versions)]
        number = int(version_id) if version_id.isdigit() else None
        if number is None and version_id in record.meta.version_aliases:
            number = int(record.meta.version_aliases[version_id])
        version = record.versions.get(number) if number is not None else None
        if version is None:
            raise not_found(f"Secret Version [{record.meta.name}/versions/{version_id}] not found.")
        return version

    def versioned(self, name: str, *, aliases: bool = True) -> tuple[SecretRecord, Version]:
        key, version_id = self.names.version_key(name)
        record = self.record(key)
        return record, self.resolve(record, version_id, aliases=aliases)

    # -- mutations ---------------------------------------------------------------------------

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the emulator clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    def new_etag(self) -> str:
        return f'"{self._etag_salt}{next(self._etag_counter):06x}"'

    def limit_secret_write(self, record: SecretRecord) -> None:
        """AddSecretVersion/UpdateSecret: the per-secret limit of the secret's kind."""
        regional = record.key.location is not None
        self.limit(
            record.writes,
            quotas.REGIONAL_SECRET_WRITE_LIMIT if regional else quotas.SECRET_WRITE_LIMIT,
            quotas.SECRET_WRITES.format(record.meta.name),
        )

    def limit(self, calls: collections.deque[float], limit: quotas.RateLimit, what: str) -> None:
        """Apply a documented write rate limit unless rate limits are off (caller holds the
        lock, so concurrent calls are counted one at a time)."""
        if self.rate_limits:
            quotas.admit(calls, limit, self._monotonic(), what)

    def check_etag(self, requested: str, current: str, resource: str) -> None:
        """Documented: a non-empty etag that is not the current one is FAILED_PRECONDITION. The
        message wording is not documented, so by default it avoids the word callers might
        grep for, and tests can replace it (``set_precondition_message``)."""
        if requested and requested != current:
            template = self.precondition_message or _DEFAULT_PRECONDITION_MESSAGE
            raise precondition(template.replace("{resource}", resource))

    @staticmethod
    def _drop_output_only(secret: Any) -> None:
        """Output only fields a client sent are ignored: the server sets them."""
        pb = secretmanager_v1.Secret.pb(secret)
        for output_only in ("name", "create_time", "etag", "policy_member"):
            pb.ClearField(output_only)
        if pb.HasField("rotation"):
            pb.rotation.ClearField("managed_rotation_status")

    def _ttl_to_expire_time(self, secret: Any) -> None:
        """``ttl`` is input only and ``expire_time`` "is always provided on output"."""
        if "ttl" in secret:
            secret.expire_time = self.now() + secret.ttl  # the oneof drops ttl

    def insert_secret(self, key: Key, secret: Any) -> SecretRecord:
        name = key.name
        if self._live(key) is not None:
            raise EmulatorError(grpc.StatusCode.ALREADY_EXISTS, f"Secret [{name}] already exists.")
        meta = secretmanager_v1.Secret()
        secretmanager_v1.Secret.copy_from(meta, secret)
        self._drop_output_only(meta)
        self._ttl_to_expire_time(meta)
        meta.name = name
        meta.create_time = self.now()
        meta.etag = self.new_etag()
        if "replication" not in meta and key.location is None:
            meta.replication = secretmanager_v1.Replication(
                automatic=secretmanager_v1.Replication.Automatic()
            )
        record = SecretRecord(meta, sequence=next(self._secret_sequence), key=key)
        self.secrets[key] = record
        return record

    def insert_version(
        self, record: SecretRecord, data: bytes, *, create_time: datetime | None = None
    ) -> Version:
        version = Version(
            number=record.next_version,
            state="ENABLED",
            data=bytes(data),
            create_time=create_time.astimezone(UTC) if create_time else self.now(),
            etag=self.new_etag(),
            kms_keys=kms_keys(record.meta),
        )
        record.versions[version.number] = version
        record.next_version += 1
        return version

    def set_state(self, version: Version, state: State) -> None:
        # Documented: every successful update gets a new etag, even one that changes nothing.
        version.etag = self.new_etag()
        if state != "DESTROYED":
            # "Delay destruction of secret versions": enabling or disabling a version scheduled
            # for destruction cancels the schedule (disabling a DISABLED one included).
            version.scheduled_destroy_time = None
        if version.state == state:
            return
        version.state = state
        if state == "DESTROYED":
            version.data = None
            version.destroy_time = self.now()

    def schedule_destroy(self, version: Version, ttl: timedelta | None) -> None:
        """DestroySecretVersion under the secret's version_destroy_ttl: the version is disabled
        and scheduled for destruction ``ttl`` from now. A version already scheduled keeps its
        schedule, whatever the secret's ttl is now (undocumented); either way it gets a new
        etag."""
        version.etag = self.new_etag()
        if version.scheduled_destroy_time is None and ttl is not None:
            version.state = "DISABLED"
            version.scheduled_destroy_time = self.now() + ttl

    # -- messages ----------------------------------------------------------------------------

    @staticmethod
    def secret_message(record: SecretRecord) -> Any:
        # A copy: responses are serialized after the lock is released.
        out = secretmanager_v1.Secret()
        secretmanager_v1.Secret.copy_from(out, record.meta)
        # Input only fields are not returned (google.api.field_behavior INPUT_ONLY).
        pb = secretmanager_v1.Secret.pb(out)
        pb.ClearField("tags")
        if pb.HasField("rotation"):
            pb.rotation.ClearField("rotation_period")
        return out

    def version_message(self, record: SecretRecord, version: Version) -> Any:
        message = secretmanager_v1.SecretVersion(
            name=self.version_name(record, version),
            create_time=version.create_time,
            state=getattr(secretmanager_v1.SecretVersion.State, version.state),
            etag=version.etag,
            client_specified_payload_checksum=version.client_checksum,
        )
        if record.key.location is None:  # a regional secret has no replication
            message.replication_status = secretmanager_v1.ReplicationStatus(
                automatic=secretmanager_v1.ReplicationStatus.AutomaticStatus()
            )
        if version.destroy_time is not None:
            message.destroy_time = version.destroy_time
        if version.scheduled_destroy_time is not None:
            message.scheduled_destroy_time = version.scheduled_destroy_time
        return message
