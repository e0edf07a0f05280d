"""The Secret Manager adapter: the few calls the rotation makes, with errors mapped to ours.

The client is built once per instance and lazily (see :mod:`rotation.service.runtime`), and
the heavy ``google.cloud.secretmanager`` import happens only then. With
``SECRET_MANAGER_EMULATOR_HOST`` set it talks plaintext gRPC to a local emulator, the
convention of Google's own emulators.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from momento_key_common import clients, names
from momento_key_common.errors import ConflictError, ErrorCode, SecretStoreError, SetupError
from momento_key_common.grpc_status import secret_manager_meaning, status_name
from momento_key_common.redact import scrub
from rotation.adapters.credentials import no_credentials
from rotation.rules.ports import DestroyOutcome, SecretMetadata, StoredVersion, version_number
from rotation.rules.retention import VersionInfo

if TYPE_CHECKING:
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.credentials import Credentials

_T = TypeVar("_T")
_ATTEMPT_TIMEOUT_SECONDS = 10.0
_LIST_PAGE_SIZE = 1000
# A local emulator accepts a connection at once; a few seconds allow for a slow machine.
_EMULATOR_CONNECT_SECONDS = 5.0


class GoogleSecretStore:
    """SecretStore over the real ``google-cloud-secret-manager`` client."""

    def __init__(
        self,
        *,
        emulator_host: str | None,
        deadline: timedelta,
        credentials: Credentials | None = None,
        interceptor: Any = None,
    ) -> None:
        """``interceptor`` (a gRPC client interceptor) sees every call, retries included.

        ``credentials`` default to Application Default Credentials, resolved here and kept: a
        refused credential surfaces as INTERNAL, and telling it from a real INTERNAL takes
        refreshing them (:meth:`_internal_error`). With an emulator they are only used for that.
        """
        import google_crc32c  # noqa: PLC0415  (cold start: import lazily)
        from google.api_core import exceptions, retry  # noqa: PLC0415

        self._crc32c = google_crc32c.value
        self._exceptions = exceptions
        if not emulator_host and credentials is None:
            credentials = _application_default()
        self._credentials = credentials
        self._interceptor = interceptor
        self._emulator = _emulator_client(emulator_host, interceptor) if emulator_host else None
        # Location (None: global) -> client: each regional secret is served only by its own
        # location's endpoint. Built on first use; an emulator serves every location itself.
        self._clients: dict[str | None, Any] = {}
        self._clients_lock = threading.Lock()
        # What the Locations API said of each regional location asked about (True: served).
        self._served_locations: dict[str, bool] = {}
        # Transient errors are retried for every call. That includes add: a retried add whose
        # first attempt actually landed leaves two identical versions, which is harmless, while
        # giving up leaves the only copy of a freshly refreshed key in memory.
        self._retry = retry.Retry(
            predicate=retry.if_exception_type(
                exceptions.ServiceUnavailable,
                exceptions.DeadlineExceeded,
                exceptions.ResourceExhausted,
                exceptions.InternalServerError,
            ),
            initial=0.2,
            maximum=5.0,
            multiplier=2.0,
            timeout=deadline.total_seconds(),
        )

    def close(self) -> None:
        with self._clients_lock:
            clients = [*self._clients.values(), self._emulator]
            self._clients.clear()
        for client in clients:
            if client is not None:
                client.transport.close()

    def client_for(self, resource: str) -> Any:
        """The client that serves ``resource`` (a secret, version or list parent): the global
        endpoint's, or its location's regional endpoint's. Built once each, on first use."""
        location = _location_of(resource)
        if self._emulator is not None:
            return self._emulator
        with self._clients_lock:
            client = self._clients.get(location)
            if client is None:
                endpoint = names.regional_endpoint(location) if location else None
                client = _google_client(self._credentials, self._interceptor, endpoint)
                self._clients[location] = client
            return client

    def read_latest(self, secret: str) -> StoredVersion:
        try:
            response = self._call(
                f"read the latest version of {secret}",
                lambda: self.client_for(secret).access_secret_version(
                    name=f"{secret}/versions/latest",
                    retry=self._retry,
                    timeout=_ATTEMPT_TIMEOUT_SECONDS,
                ),
                resource=secret,
            )
        except _PreconditionFailedError as error:
            raise self._unreadable_latest(secret, error) from None
        data = bytes(response.payload.data)
        checksum = response.payload.data_crc32c
        if checksum is not None and checksum != self._crc32c(data):
            raise SecretStoreError(
                f"{response.name} failed its CRC32C check (corrupted in transit or at rest); "
                "run again, and if it persists add a new version with the token document",
                code=ErrorCode.CHECKSUM_MISMATCH,
            )
        return StoredVersion(response.name, version_number(response.name), data)

    def _unreadable_latest(self, secret: str, error: _PreconditionFailedError) -> SecretStoreError:
        """Why the latest version could not be accessed, from its state (one more read).

        Documented: accessing a version that is not ENABLED is FAILED_PRECONDITION. So is one
        whose customer-managed encryption key (CMEK) is disabled, while the version itself
        stays ENABLED; adding a version would fail the same way, so the advice differs.
        """
        try:
            latest = self.get_version(f"{secret}/versions/latest")
        except SecretStoreError:
            latest = None
        if latest is not None and latest.state == "ENABLED":
            return SecretStoreError(
                f"Secret Manager refused to read {latest.name}, which is ENABLED "
                f"({error.detail}); this is what it does when the Cloud KMS key that encrypts the "
                "secret (CMEK) is disabled, destroyed or not usable by Secret Manager's service "
                "agent: check that key and its permissions, then run again",
                code=ErrorCode.LATEST_VERSION_UNREADABLE,
            )
        which = f"{latest.name} is {latest.state}" if latest else "it is disabled or destroyed"
        return SecretStoreError(
            f"the latest version of {secret} cannot be read: {which}, so consumers reading "
            "'latest' get nothing; enable the version with the working key, or add a new "
            "version with the token document",
            code=ErrorCode.LATEST_VERSION_NOT_ENABLED,
        )

    def get_version(self, name: str) -> VersionInfo:
        response = self._call(
            f"read {name}",
            lambda: self.client_for(name).get_secret_version(
                name=name, retry=self._retry, timeout=_ATTEMPT_TIMEOUT_SECONDS
            ),
            resource=name,
        )
        return _version_info(response)

    def add_version(self, secret: str, data: bytes) -> str:
        payload = {"data": data, "data_crc32c": self._crc32c(data)}
        response = self._call(
            f"add a version to {secret}",
            lambda: self.client_for(secret).add_secret_version(
                request={"parent": secret, "payload": payload},
                retry=self._retry,
                timeout=_ATTEMPT_TIMEOUT_SECONDS,
            ),
            resource=secret,
        )
        return str(response.name)

    def list_labelled(self, parent: str, key: str, value: str) -> list[str]:
        def list_all() -> list[str]:
            # "labels.KEY:VALUE" is the filter form of the docs page "Filter lists of secrets";
            # the labels are checked again below, so its exact matching rule does not matter.
            pager = self.client_for(parent).list_secrets(
                request={
                    "parent": parent,
                    # An empty value: any secret with the key; the check below keeps "".
                    "filter": f"labels.{key}:{value or '*'}",
                    "page_size": _LIST_PAGE_SIZE,
                },
                retry=self._retry,
                timeout=_ATTEMPT_TIMEOUT_SECONDS,
            )
            return [str(secret.name) for secret in pager if secret.labels.get(key) == value]

        return self._call(
            f"list the secrets of {parent} labelled {key}={value}", list_all, resource=parent
        )

    def list_versions(self, secret: str) -> list[VersionInfo]:
        def list_all() -> list[VersionInfo]:
            # One list for the whole sweep: every version but the destroyed ones, which are
            # final, free, and of no use to anyone (AIP-160 filter; "Filter lists of secrets").
            pager = self.client_for(secret).list_secret_versions(
                request={
                    "parent": secret,
                    "filter": "NOT state:DESTROYED",
                    "page_size": _LIST_PAGE_SIZE,
                },
                retry=self._retry,
                timeout=_ATTEMPT_TIMEOUT_SECONDS,
            )
            return [_version_info(version) for version in pager]

        return self._call(f"list the versions of {secret}", list_all, resource=secret)

    def disable(self, version: VersionInfo, *, deadline: timedelta) -> None:
        self._change_state(
            "disable", version, deadline, lambda client: client.disable_secret_version
        )

    def destroy(self, version: VersionInfo, *, deadline: timedelta) -> DestroyOutcome:
        """Destroy ``version`` if unchanged since it was listed. With the secret's
        version_destroy_ttl set, Secret Manager only schedules it: the version stays DISABLED
        with a scheduled_destroy_time ("Delay destruction of secret versions")."""
        response = self._change_state(
            "destroy", version, deadline, lambda client: client.destroy_secret_version
        )
        info = _version_info(response)
        return DestroyOutcome.SCHEDULED if info.state != "DESTROYED" else DestroyOutcome.DESTROYED

    def _change_state(
        self,
        verb: str,
        version: VersionInfo,
        deadline: timedelta,
        method: Callable[[Any], Callable[..., Any]],
    ) -> Any:
        """Call ``method`` of the version's client (disable, destroy) on ``version``. The etag
        from the listing makes it a no-op if someone changed the version since: a ConflictError,
        confirmed by re-reading the version's etag."""
        seconds = max(deadline.total_seconds(), 0.001)
        try:
            return self._call(
                f"{verb} {version.name}",
                lambda: method(self.client_for(version.name))(
                    request={"name": version.name, "etag": version.etag},
                    retry=self._retry.with_timeout(seconds),
                    timeout=min(_ATTEMPT_TIMEOUT_SECONDS, seconds),
                ),
                resource=version.name,
            )
        except _PreconditionFailedError as error:
            self._confirm_conflict(error, version.etag, lambda: self._version_etag(version.name))
            raise ConflictError(
                f"could not {verb} {version.name}: it changed since it was listed"
            ) from None

    def get_metadata(self, secret: str) -> SecretMetadata:
        response = self._get_secret(secret)
        # proto-plus gives an unset Timestamp as a zero datetime; "expire_time" in the message
        # tells it from a set one.
        expire_time: datetime | None = response.expire_time if "expire_time" in response else None
        rotation = response.rotation if "rotation" in response else None
        next_rotation_time: datetime | None = (
            rotation.next_rotation_time
            if rotation is not None and "next_rotation_time" in rotation
            else None
        )
        return SecretMetadata(
            annotations=dict(response.annotations),
            etag=str(response.etag),
            version_aliases={
                str(alias): int(number) for alias, number in response.version_aliases.items()
            },
            name=str(response.name),
            expire_time=expire_time,
            next_rotation_time=next_rotation_time,
            billed_locations=_billed_locations(response),
        )

    def replace_annotations(
        self, secret: str, annotations: Mapping[str, str], etag: str
    ) -> str | None:
        request = {
            "secret": {"name": secret, "annotations": dict(annotations), "etag": etag},
            "update_mask": {"paths": ["annotations"]},
        }
        try:
            response = self._call(
                f"update the annotations of {secret}",
                lambda: self.client_for(secret).update_secret(
                    request=request, retry=self._retry, timeout=_ATTEMPT_TIMEOUT_SECONDS
                ),
                resource=secret,
            )
        except _PreconditionFailedError as error:
            self._confirm_conflict(error, etag, lambda: str(self._get_secret(secret).etag))
            return None
        return str(response.etag)

    def _get_secret(self, secret: str) -> Any:
        return self._call(
            f"read {secret}",
            lambda: self.client_for(secret).get_secret(
                name=secret, retry=self._retry, timeout=_ATTEMPT_TIMEOUT_SECONDS
            ),
            resource=secret,
        )

    def _version_etag(self, name: str) -> str:
        return self.get_version(name).etag

    @staticmethod
    def _confirm_conflict(
        error: _PreconditionFailedError, sent_etag: str, etag_now: Callable[[], str]
    ) -> None:
        """Return if the resource's etag moved on since ``sent_etag``; else re-raise ``error``.

        FAILED_PRECONDITION (or ABORTED) is all the etag contract documents; the message wording
        is not part of it. So a lost compare-and-swap is told by re-reading the resource: if its
        etag is still the one we sent, the precondition that failed was something else.
        """
        try:
            moved_on = etag_now() != sent_etag
        except SecretStoreError as reread:
            # Can't tell now: a transient failure of the re-read (or of its wait for the
            # budget) is reported as itself, so that housekeeping is cut short, not failed.
            if reread.code.transient:
                raise reread from None
            raise error from None
        if not moved_on:
            raise error

    def _call(self, action: str, call: Callable[[], _T], *, resource: str) -> _T:
        try:
            return call()
        except self._exceptions.GoogleAPICallError as error:
            raise self._mapped(action, error, resource) from None
        except self._exceptions.RetryError as error:
            # The deadline passed while transient errors kept coming: report the last one.
            cause = error.cause
            if isinstance(cause, self._exceptions.GoogleAPICallError):
                raise self._mapped(
                    action, cause, resource, note=" (still failing when the deadline passed)"
                ) from None
            raise SecretStoreError(
                f"could not {action}: Secret Manager kept failing until the deadline; "
                "run again later",
                code=ErrorCode.SECRET_MANAGER_UNAVAILABLE,
            ) from None

    def _mapped(
        self, action: str, error: GoogleAPICallError, resource: str, *, note: str = ""
    ) -> SecretStoreError:
        status = status_name(error)
        if status == "INTERNAL":
            # A refused credential surfaces inside gRPC as INTERNAL: ask the token service
            # directly, so that days of redelivery don't go to a credential nobody will fix.
            self._raise_if_credentials_refused(action)
        location = _location_of(resource)
        if status == "UNAVAILABLE" and location is not None:
            # A location Secret Manager doesn't serve has no endpoint: its name doesn't resolve,
            # which looks like UNAVAILABLE forever. Ask the Locations API, on the global endpoint.
            self._raise_if_location_not_served(action, resource, location)
        return _map_error(action, error, note=note)

    def _raise_if_location_not_served(self, action: str, resource: str, location: str) -> None:
        name = names.of(resource)
        project = name.project if name is not None else resource.split("/")[1]
        served = self._served_locations.get(location)
        if served is None:
            try:
                self.client_for(f"projects/{project}").get_location(
                    request={"name": f"projects/{project}/locations/{location}"},
                    timeout=_ATTEMPT_TIMEOUT_SECONDS,
                )
                served = True
            except self._exceptions.NotFound:
                served = False
            except (self._exceptions.GoogleAPICallError, self._exceptions.RetryError):
                return  # can't tell: report the UNAVAILABLE as it is (transient)
            self._served_locations[location] = served
        if not served:
            raise SecretStoreError(
                f"could not {action}: Secret Manager does not serve the location {location!r} "
                f"(its Locations API does not know it, and it has no endpoint); check the "
                f"location in {resource} ('gcloud secrets locations list' lists those it "
                "serves)",
                code=ErrorCode.LOCATION_NOT_SERVED,
            )

    def _raise_if_credentials_refused(self, action: str) -> None:
        credentials = self._credentials
        if credentials is None:
            return  # an emulator without credentials: nothing to refuse
        from google.auth import exceptions as auth_exceptions  # noqa: PLC0415
        from google.auth.transport.requests import Request  # noqa: PLC0415

        try:
            credentials.refresh(Request())  # type: ignore[no-untyped-call]
        except auth_exceptions.RefreshError:
            account = getattr(credentials, "service_account_email", None)
            who = f"the service account {account}" if account else "the function's credentials"
            raise SetupError(
                f"could not {action}: Secret Manager answered INTERNAL, and Google's token "
                f"service refuses {who}: check that the account exists, is enabled and has a "
                "valid key (for a deployed function: the service account deploy.sh created)",
                code=ErrorCode.CREDENTIALS_REFUSED,
            ) from None
        except auth_exceptions.TransportError:
            return  # the token service is unreachable too: that is transient, not refused


class _PreconditionFailedError(SecretStoreError):
    """FAILED_PRECONDITION or ABORTED: a stale etag, or a state that forbids the call.

    ``detail`` is the service's own message, scrubbed: shown to the operator, never parsed.
    """

    def __init__(self, message: str, *, code: ErrorCode, detail: str) -> None:
        super().__init__(message, code=code)
        self.detail = detail


def _application_default() -> Credentials:
    import google.auth  # noqa: PLC0415
    from google.auth import exceptions as auth_exceptions  # noqa: PLC0415

    try:
        credentials, _ = google.auth.default(
            scopes=("https://www.googleapis.com/auth/cloud-platform",)
        )
    except auth_exceptions.DefaultCredentialsError:
        raise no_credentials() from None
    return credentials


def _location_of(resource: str) -> str | None:
    """The location a secret, version or parent name is in; None for global ones."""
    name = names.of(resource)
    if name is not None:
        return name.location
    parts = resource.split("/")
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == "locations":
        return parts[3]
    return None


def _google_client(credentials: Credentials | None, interceptor: Any, endpoint: str | None) -> Any:
    from google.auth import exceptions as auth_exceptions  # noqa: PLC0415

    try:
        return clients.google_client(
            endpoint=endpoint, credentials=credentials, interceptor=interceptor
        )
    except auth_exceptions.DefaultCredentialsError:
        raise no_credentials() from None


def _emulator_client(emulator_host: str, interceptor: Any) -> Any:
    import grpc  # noqa: PLC0415

    channel = clients.emulator_channel(emulator_host)
    try:
        # Without this, a refused connection is UNAVAILABLE, which is retried until the
        # deadline: a minute of silence for what is really "the emulator is not running".
        grpc.channel_ready_future(channel).result(timeout=_EMULATOR_CONNECT_SECONDS)
    except grpc.FutureTimeoutError:
        channel.close()
        raise SetupError(
            f"no Secret Manager emulator answers at {emulator_host} "
            f"(SECRET_MANAGER_EMULATOR_HOST), after {_EMULATOR_CONNECT_SECONDS:g}s; start it "
            "(./dev.sh serve starts one), or unset the variable to use Secret Manager itself",
            code=ErrorCode.EMULATOR_UNREACHABLE,
        ) from None
    return clients.emulator_client(channel, interceptor=interceptor)


def _version_info(version: Any) -> VersionInfo:
    create_time: datetime = version.create_time
    scheduled: datetime | None = (
        version.scheduled_destroy_time if "scheduled_destroy_time" in version else None
    )
    return VersionInfo(
        name=str(version.name),
        number=version_number(str(version.name)),
        create_time=create_time,
        etag=str(version.etag),
        state=str(version.state.name),
        scheduled_destroy_time=scheduled,
    )


def _billed_locations(secret: Any) -> int:
    """How many locations each version is billed in (Secret Manager's pricing page):
    automatic replication counts as one, user-managed replication one per replica, and a
    regional secret (no replication) one."""
    if "replication" in secret and "user_managed" in secret.replication:
        return max(len(secret.replication.user_managed.replicas), 1)
    return 1


def _map_error(action: str, error: GoogleAPICallError, *, note: str = "") -> SecretStoreError:
    """Ours for ``error``, by its gRPC status code (momento_key_common.grpc_status), never its
    class name."""
    status = status_name(error)
    meaning = secret_manager_meaning(status)
    # The service's own words, scrubbed, for the operator; no branch ever depends on them.
    detail = scrub(str(error.message or status)).rstrip(". ")
    message = f"could not {action}: {detail}{note}; {meaning.advice}"
    if status in ("FAILED_PRECONDITION", "ABORTED"):
        return _PreconditionFailedError(message, code=meaning.code, detail=detail)
    return SecretStoreError(message, code=meaning.code)
