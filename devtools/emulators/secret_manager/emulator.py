"""``SecretManagerEmulator``: the server, its test hooks, and the gRPC wiring of every method.

The methods themselves are in secret_rpcs, version_rpcs and location_rpcs, the state they share
in store. The hooks seed state that already exists upstream, so they skip the field rules
(rules.py) and the rate limits (quotas.py) that RPCs are held to. Rows of the rule table (its
sources and status codes: see the package docstring):

| rule | source | test |
|---|---|---|
| hooks seed annotations unchecked; RPCs writing them back are checked | this brief (seeding models upstream state) | test_seeded_legacy_annotation_keys_are_kept_but_cannot_be_written_back |
| hooks: `add_version(..., state="DISABLED", scheduled_destroy_time=T)` seeds a version already scheduled (a T already past destroys it on the next access); `set_version_destroy_ttl(secret, ttl)` sets, or with None removes, the ttl unchecked, etag unchanged | this brief (seeding models upstream state) | test_hooks_seed_scheduled_versions_and_the_version_destroy_ttl |
| at next_rotation_time, SECRET_ROTATE is published to each topic (attributes eventType, secretId with the project number, dataFormat; data the Secret as JSON), and next_rotation_time is advanced by rotation_period (test hook `publish_due_rotations`, by the emulator clock) | resources.py Rotation ("At next_rotation_time, Secret Manager will send a Pub/Sub notification to the topics configured on the Secret"), Rotation.rotation_period ("next_rotation_time will be advanced by this period when the service automatically sends rotation notifications"); "Set up notifications on a secret" (attributes) | test_due_rotations_are_published_and_next_rotation_time_advances |
| unknown: a rotation without rotation_period after its one notification; we clear next_rotation_time | (none) | test_due_rotations_are_published_and_next_rotation_time_advances |
| SECRET_ROTATE for a regional secret (hook `publish_due_rotations`) carries its regional name, with the project number, as secretId | "Create rotation schedules" (regional-secrets: "Secret Manager triggers a SECRET_ROTATE message to the designated Pub/Sub topics at the secret's next_rotation_time"); "Set up notifications on a secret" (secretId: "The full resource name of the secret where the event occurred") | test_due_rotations_of_regional_secrets_carry_the_regional_name |
| test hooks take regional names (a well-formed location, served or not); `create_secret(kms_key_name=...)` sets a regional secret's own CMEK key | this brief | test_hooks_take_regional_names |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

import base64
import collections
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.cloud import secretmanager_v1
from google.cloud.location import locations_pb2
from google.protobuf import empty_pb2

from devtools.emulators._server import EmulatorServer
from devtools.emulators.secret_manager import location_rpcs, secret_rpcs, version_rpcs
from devtools.emulators.secret_manager.names import is_location_id, request_resource
from devtools.emulators.secret_manager.rules import KMS_KEY_NAME, check_secret_id
from devtools.emulators.secret_manager.store import STATES, SecretRecord, SecretStore

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
# The Locations mixin the Secret Manager client exposes as get_location/list_locations.
LOCATIONS_SERVICE = "google.cloud.location.Locations"
RPC_NAMES = (
    "CreateSecret",
    "GetSecret",
    "UpdateSecret",
    "DeleteSecret",
    "ListSecrets",
    "AddSecretVersion",
    "GetSecretVersion",
    "AccessSecretVersion",
    "ListSecretVersions",
    "EnableSecretVersion",
    "DisableSecretVersion",
    "DestroySecretVersion",
    "GetLocation",
    "ListLocations",
)


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return when


class SecretManagerEmulator(EmulatorServer):
    """In-memory Secret Manager served over plaintext gRPC, plus thread-safe test hooks.

    One lock guards all state and every RPC holds it for its whole read-modify-write, which is
    what makes etag checks atomic compare-and-swaps.

    ``clock`` is the service's wall clock (create times, rotation and expiration); tests freeze
    or move it. ``monotonic`` (default ``time.monotonic``) times the per-secret and per-version
    write rate limits, which are on unless ``rate_limits=False``; the ``rate_limits`` attribute
    switches them at any time.

    ``locations`` is the set of locations Secret Manager serves (has a regional endpoint for);
    ``None``, the default, serves every well-formed location id. A regional call for a location
    not served answers UNAVAILABLE, as a client whose endpoint does not resolve sees it, and
    GetLocation answers NOT_FOUND for it. The ``locations`` attribute can be changed at any time.
    """

    def __init__(
        self,
        *,
        project_numbers: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        rate_limits: bool = True,
        monotonic: Callable[[], float] | None = None,
        locations: Collection[str] | None = None,
    ) -> None:
        super().__init__(RPC_NAMES, max_workers=64)
        self.locations = locations
        self._store = SecretStore(
            project_numbers=project_numbers,
            clock=clock or (lambda: datetime.now(UTC)),
            rate_limits=rate_limits,
            monotonic=monotonic or time.monotonic,
        )
        # Every RPC received, by method name, including refused and faulted ones.
        self.calls: collections.Counter[str] = self._faults.calls

    @property
    def rate_limits(self) -> bool:
        """Whether the documented per-secret and per-version write rate limits apply."""
        return self._store.rate_limits

    @rate_limits.setter
    def rate_limits(self, enabled: bool) -> None:
        self._store.rate_limits = enabled

    @property
    def locations(self) -> frozenset[str] | None:
        """The locations served, or ``None`` for every well-formed location id."""
        return self._locations

    @locations.setter
    def locations(self, locations: Collection[str] | None) -> None:
        if isinstance(locations, str):
            raise TypeError("locations must be a collection of location ids, not one string")
        if locations is not None:
            malformed = sorted(loc for loc in locations if not is_location_id(loc))
            if malformed:
                raise ValueError(f"not location ids: {malformed}")
            locations = frozenset(locations)
        self._locations = locations

    # -- test hooks --------------------------------------------------------------------------
    # Hooks take global (projects/P/secrets/S) and regional (projects/P/locations/L/secrets/S)
    # names alike; a regional name needs a well-formed location id, served or not.
    # Hooks seed state that already exists upstream, so they skip the field rules that RPCs
    # enforce (a test can seed an annotation key an old release wrote before the rules bit).

    def create_secret(
        self,
        name: str,
        *,
        annotations: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        expire_time: datetime | None = None,
        kms_key_name: str | None = None,
    ) -> str:
        """Create ``projects/P/secrets/S`` (automatic replication) or the regional secret
        ``projects/P/locations/L/secrets/S`` (no replication); returns its canonical name.

        ``annotations``, ``labels`` and ``expire_time`` (even one already past) are stored as
        given, unchecked. ``kms_key_name`` sets the CMEK key (of the automatic replication, or of
        the regional secret), which encrypts every version added afterwards. Raises
        :class:`EmulatorError` (ALREADY_EXISTS, or INVALID_ARGUMENT for a bad secret id or
        location) like the RPC would.
        """
        key = self._store.names.secret_key(name)
        check_secret_id(key.secret)
        secret = secretmanager_v1.Secret(
            annotations=dict(annotations or {}), labels=dict(labels or {})
        )
        if expire_time is not None:
            secret.expire_time = _aware(expire_time, "expire_time")
        if kms_key_name is not None:
            encryption = secretmanager_v1.CustomerManagedEncryption(kms_key_name=kms_key_name)
            if key.location is not None:
                secret.customer_managed_encryption = encryption
            else:
                secret.replication = secretmanager_v1.Replication(
                    automatic=secretmanager_v1.Replication.Automatic(
                        customer_managed_encryption=encryption
                    )
                )
        with self._store.lock:
            return str(self._store.insert_secret(key, secret).meta.name)

    def set_expire_time(self, secret: str, expire_time: datetime | None) -> None:
        """Set (or with ``None`` remove) the secret's ``expire_time`` as given, unchecked; the
        etag does not change. A time already past deletes the secret on its next access."""
        when = None if expire_time is None else _aware(expire_time, "expire_time")
        with self._store.lock:
            meta = self._store.secret(secret).meta
            if when is None:
                secretmanager_v1.Secret.pb(meta).ClearField("expire_time")
            else:
                meta.expire_time = when

    def set_kms_key_enabled(self, kms_key_name: str, enabled: bool) -> None:
        """Make the Cloud KMS key ``kms_key_name`` (a CryptoKey) unusable, as disabling or
        destroying it does, or usable again. While it is unusable, accessing a version whose
        payload it encrypted is FAILED_PRECONDITION; the version itself stays ENABLED."""
        if KMS_KEY_NAME.fullmatch(kms_key_name) is None:
            raise ValueError(
                "kms_key_name must be projects/*/locations/*/keyRings/*/cryptoKeys/*, not "
                f"{kms_key_name!r}"
            )
        with self._store.lock:
            if enabled:
                self._store.unusable_kms_keys.discard(kms_key_name)
            else:
                self._store.unusable_kms_keys.add(kms_key_name)

    def add_version(
        self,
        secret: str,
        data: bytes,
        *,
        create_time: datetime | None = None,
        state: str = "ENABLED",
        scheduled_destroy_time: datetime | None = None,
    ) -> str:
        """Add a version in any state with a chosen create time; returns the version name.

        ``scheduled_destroy_time`` (DISABLED versions only) seeds a version whose destruction
        a DestroySecretVersion under a version_destroy_ttl already scheduled, whatever the
        secret's ttl is now; a time already past destroys it on the next access.
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        if create_time is not None:
            _aware(create_time, "create_time")
        if scheduled_destroy_time is not None:
            _aware(scheduled_destroy_time, "scheduled_destroy_time")
            if state != "DISABLED":
                raise ValueError("only a DISABLED version can be scheduled for destruction")
        with self._store.lock:
            record = self._store.secret(secret)
            version = self._store.insert_version(record, data, create_time=create_time)
            if state != "ENABLED":
                self._store.set_state(version, state)
            if scheduled_destroy_time is not None:
                version.scheduled_destroy_time = scheduled_destroy_time.astimezone(UTC)
            return self._store.version_name(record, version)

    def set_version_destroy_ttl(self, secret: str, ttl: timedelta | None) -> None:
        """Set (or with ``None`` remove) the secret's ``version_destroy_ttl`` as given,
        unchecked (a seeding hook); the etag does not change. Versions already scheduled for
        destruction keep their schedule."""
        with self._store.lock:
            meta = self._store.secret(secret).meta
            if ttl is None:
                secretmanager_v1.Secret.pb(meta).ClearField("version_destroy_ttl")
            else:
                meta.version_destroy_ttl = ttl

    def set_version_aliases(self, secret: str, aliases: Mapping[str, int]) -> None:
        """Replace the secret's ``version_aliases`` as given, unchecked (a seeding hook).

        The secret's etag does not change: this models state that already exists upstream.
        """
        with self._store.lock:
            record = self._store.secret(secret)
            record.meta.version_aliases.clear()
            record.meta.version_aliases.update({str(a): int(n) for a, n in aliases.items()})

    def set_rotation(
        self,
        secret: str,
        *,
        next_rotation_time: datetime,
        rotation_period: timedelta,
        topics: Sequence[str],
    ) -> None:
        """Give the secret a rotation schedule and topics as given, unchecked (a seeding hook:
        a schedule already running upstream, its next time possibly past). The etag does not
        change. ``rotation_period`` is kept, though GetSecret never returns it (INPUT_ONLY)."""
        when = _aware(next_rotation_time, "next_rotation_time")
        with self._store.lock:
            meta = self._store.secret(secret).meta
            meta.rotation = secretmanager_v1.Rotation(
                next_rotation_time=when, rotation_period=rotation_period
            )
            meta.topics = [secretmanager_v1.Topic(name=topic) for topic in topics]

    def publish_due_rotations(self, publish: Callable[[str, dict[str, Any]], None]) -> int:
        """Publish SECRET_ROTATE for every secret whose ``next_rotation_time`` has come (by the
        emulator clock), as Secret Manager does, then advance it by ``rotation_period``.

        ``publish(topic, message)`` receives, per topic, the Pub/Sub message: ``attributes``
        (``eventType``, ``secretId`` with the project number, ``dataFormat``) and ``data`` (the
        Secret resource as JSON, base64). Returns how many secrets were due. Nothing is
        published while the emulator's lock is held.
        """
        outbox: list[tuple[str, dict[str, Any]]] = []
        with self._store.lock:
            self._store.drop_expired()
            now = self._store.now()
            for record in self._store.secrets.values():
                rotation = record.meta.rotation
                if "rotation" not in record.meta or "next_rotation_time" not in rotation:
                    continue
                if rotation.next_rotation_time > now:
                    continue
                message = self._rotate_message(record)
                outbox.extend((topic.name, message) for topic in record.meta.topics)
                period = rotation.rotation_period if "rotation_period" in rotation else None
                if period:
                    # resources.py Rotation.rotation_period: "next_rotation_time will be advanced
                    # by this period when the service automatically sends rotation notifications"
                    rotation.next_rotation_time = rotation.next_rotation_time + period
                else:
                    secretmanager_v1.Secret.pb(record.meta).rotation.ClearField(
                        "next_rotation_time"
                    )
        for topic, message in outbox:
            publish(topic, message)
        return len({message["attributes"]["secretId"] for _, message in outbox})

    def _rotate_message(self, record: SecretRecord) -> dict[str, Any]:
        resource = secretmanager_v1.Secret.to_json(self._store.secret_message(record))
        return {
            "attributes": {
                "eventType": "SECRET_ROTATE",
                "secretId": str(record.meta.name),
                "dataFormat": "JSON_API_V1",
            },
            "data": base64.b64encode(resource.encode()).decode(),
        }

    def set_annotations(self, secret: str, annotations: Mapping[str, str]) -> None:
        """Replace the secret's annotations as given, unchecked (a seeding hook): state that a
        writer left upstream, such as a lease taken long ago. The secret gets a new etag, as
        the write that left them would have given it."""
        with self._store.lock:
            record = self._store.secret(secret)
            record.meta.annotations.clear()
            record.meta.annotations.update(dict(annotations))
            record.meta.etag = self._store.new_etag()

    def set_precondition_message(self, text: str | None) -> None:
        """Use ``text`` as the message of every etag-mismatch FAILED_PRECONDITION (``None``:
        the default). The wording is not part of Secret Manager's contract, so a test can make
        it say anything and show that callers act on the status code alone."""
        with self._store.lock:
            self._store.precondition_message = text

    def version_states(self, secret: str) -> dict[int, str]:
        """``{version number: state}`` for every version of ``secret``."""
        with self._store.lock:
            return {n: v.state for n, v in sorted(self._store.secret(secret).versions.items())}

    def payload(self, secret: str, version: int | str = "latest") -> bytes | None:
        """The stored bytes of a version whatever its state; ``None`` once destroyed."""
        with self._store.lock:
            return self._store.resolve(self._store.secret(secret), str(version)).data

    def annotations(self, secret: str) -> dict[str, str]:
        with self._store.lock:
            return dict(self._store.secret(secret).meta.annotations)

    # -- gRPC plumbing -----------------------------------------------------------------------

    def _add_handlers(self, server: grpc.Server) -> None:
        sm = secretmanager_v1
        store = self._store
        serialize_empty = empty_pb2.Empty.SerializeToString
        table: dict[str, tuple[Callable[[Any], Any], Any, Callable[[Any], bytes]]] = {
            "CreateSecret": (
                lambda r: secret_rpcs.create_secret(store, r),
                sm.CreateSecretRequest,
                sm.Secret.serialize,
            ),
            "GetSecret": (
                lambda r: secret_rpcs.get_secret(store, r),
                sm.GetSecretRequest,
                sm.Secret.serialize,
            ),
            "UpdateSecret": (
                lambda r: secret_rpcs.update_secret(store, r),
                sm.UpdateSecretRequest,
                sm.Secret.serialize,
            ),
            "DeleteSecret": (
                lambda r: secret_rpcs.delete_secret(store, r),
                sm.DeleteSecretRequest,
                serialize_empty,
            ),
            "ListSecrets": (
                lambda r: secret_rpcs.list_secrets(store, r),
                sm.ListSecretsRequest,
                sm.ListSecretsResponse.serialize,
            ),
            "AddSecretVersion": (
                lambda r: version_rpcs.add_secret_version(store, r),
                sm.AddSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "GetSecretVersion": (
                lambda r: version_rpcs.get_secret_version(store, r),
                sm.GetSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "AccessSecretVersion": (
                lambda r: version_rpcs.access_secret_version(store, r),
                sm.AccessSecretVersionRequest,
                sm.AccessSecretVersionResponse.serialize,
            ),
            "ListSecretVersions": (
                lambda r: version_rpcs.list_secret_versions(store, r),
                sm.ListSecretVersionsRequest,
                sm.ListSecretVersionsResponse.serialize,
            ),
            "EnableSecretVersion": (
                lambda r: version_rpcs.change_state(store, r, "ENABLED"),
                sm.EnableSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "DisableSecretVersion": (
                lambda r: version_rpcs.change_state(store, r, "DISABLED"),
                sm.DisableSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "DestroySecretVersion": (
                lambda r: version_rpcs.change_state(store, r, "DESTROYED"),
                sm.DestroySecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
        }
        # Methods missing from the table (IAM, RotateSecret, ...) get UNIMPLEMENTED from gRPC.
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                method: grpc.unary_unary_rpc_method_handler(
                    self._rpc(method, fn),
                    request_deserializer=request_type.deserialize,
                    response_serializer=serialize,
                )
                for method, (fn, request_type, serialize) in table.items()
            },
        )
        # The Locations mixin is served on the global endpoint, so no endpoint check.
        locations = grpc.method_handlers_generic_handler(
            LOCATIONS_SERVICE,
            {
                "GetLocation": grpc.unary_unary_rpc_method_handler(
                    self._rpc("GetLocation", self._get_location, regional_endpoint=False),
                    request_deserializer=locations_pb2.GetLocationRequest.FromString,
                    response_serializer=locations_pb2.Location.SerializeToString,
                ),
                "ListLocations": grpc.unary_unary_rpc_method_handler(
                    self._rpc("ListLocations", self._list_locations, regional_endpoint=False),
                    request_deserializer=locations_pb2.ListLocationsRequest.FromString,
                    response_serializer=locations_pb2.ListLocationsResponse.SerializeToString,
                ),
            },
        )
        server.add_generic_rpc_handlers((handler, locations))

    # The served locations are read per call: the attribute can change at any time.

    def _get_location(self, request: Any) -> Any:
        return location_rpcs.get_location(self._store, self._locations, request)

    def _list_locations(self, request: Any) -> Any:
        return location_rpcs.list_locations(self._store, self._locations, request)

    def _rpc(
        self, method: str, handler: Callable[[Any], Any], *, regional_endpoint: bool = True
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def run(request: Any) -> Any:
            if regional_endpoint:
                location_rpcs.check_reachable(self._locations, request)
            return handler(request)

        def serve(request: Any, context: grpc.ServicerContext) -> Any:
            return self._serve_call(
                method, context, lambda: run(request), resource=request_resource(request)
            )

        return serve
