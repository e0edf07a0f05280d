"""The Secret Manager adapter: the few calls the rotation makes, with errors mapped to ours.

The client is built once per instance and lazily (see :mod:`rotation.runtime`), and the heavy
``google.cloud.secretmanager`` import happens only then. With ``SECRET_MANAGER_EMULATOR_HOST``
set it talks plaintext gRPC to a local emulator, the convention of Google's own emulators.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from rotation.errors import SecretStoreError
from rotation.ports import SecretMetadata, StoredVersion, version_number
from rotation.redact import scrub
from rotation.retention import VersionInfo

if TYPE_CHECKING:
    from google.api_core.exceptions import GoogleAPICallError

_T = TypeVar("_T")
_ATTEMPT_TIMEOUT_SECONDS = 10.0
_LIST_PAGE_SIZE = 1000


class GoogleSecretStore:
    """SecretStore over the real ``google-cloud-secret-manager`` client."""

    def __init__(self, *, emulator_host: str | None, deadline: timedelta) -> None:
        import google_crc32c  # noqa: PLC0415  (cold start: import lazily)
        from google.api_core import exceptions, retry  # noqa: PLC0415
        from google.cloud import secretmanager  # noqa: PLC0415

        self._crc32c = google_crc32c.value
        self._exceptions = exceptions
        self._client = _make_client(secretmanager, emulator_host)
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

    def read_latest(self, secret: str) -> StoredVersion:
        response = self._call(
            f"read the latest version of {secret}",
            lambda: self._client.access_secret_version(
                name=f"{secret}/versions/latest",
                retry=self._retry,
                timeout=_ATTEMPT_TIMEOUT_SECONDS,
            ),
        )
        data = bytes(response.payload.data)
        checksum = response.payload.data_crc32c
        if checksum is not None and checksum != self._crc32c(data):
            raise SecretStoreError(
                f"{response.name} failed its CRC32C check (corrupted in transit or at rest); "
                "run again, and if it persists add a new version with the token document",
                code="checksum_mismatch",
            )
        return StoredVersion(response.name, version_number(response.name), data)

    def add_version(self, secret: str, data: bytes) -> str:
        payload = {"data": data, "data_crc32c": self._crc32c(data)}
        response = self._call(
            f"add a version to {secret}",
            lambda: self._client.add_secret_version(
                request={"parent": secret, "payload": payload},
                retry=self._retry,
                timeout=_ATTEMPT_TIMEOUT_SECONDS,
            ),
        )
        return str(response.name)

    def list_enabled(self, secret: str) -> list[VersionInfo]:
        def list_all() -> list[VersionInfo]:
            pager = self._client.list_secret_versions(
                request={"parent": secret, "filter": "state:ENABLED", "page_size": _LIST_PAGE_SIZE},
                retry=self._retry,
                timeout=_ATTEMPT_TIMEOUT_SECONDS,
            )
            return [_version_info(version) for version in pager]

        return self._call(f"list the enabled versions of {secret}", list_all)

    def disable(self, version: VersionInfo) -> None:
        # The etag from the listing makes this a no-op if someone changed the version since.
        self._call(
            f"disable {version.name}",
            lambda: self._client.disable_secret_version(
                request={"name": version.name, "etag": version.etag},
                retry=self._retry,
                timeout=_ATTEMPT_TIMEOUT_SECONDS,
            ),
        )

    def get_metadata(self, secret: str) -> SecretMetadata:
        response = self._call(
            f"read {secret}",
            lambda: self._client.get_secret(
                name=secret, retry=self._retry, timeout=_ATTEMPT_TIMEOUT_SECONDS
            ),
        )
        return SecretMetadata(dict(response.annotations), str(response.etag))

    def replace_annotations(self, secret: str, annotations: Mapping[str, str], etag: str) -> bool:
        request = {
            "secret": {"name": secret, "annotations": dict(annotations), "etag": etag},
            "update_mask": {"paths": ["annotations"]},
        }
        try:
            self._call(
                f"update the annotations of {secret}",
                lambda: self._client.update_secret(
                    request=request, retry=self._retry, timeout=_ATTEMPT_TIMEOUT_SECONDS
                ),
            )
        except SecretStoreError as error:
            if error.code == "conflict":
                return False
            raise
        return True

    def _call(self, action: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except self._exceptions.GoogleAPICallError as error:
            raise _map_error(action, error, self._exceptions) from None
        except self._exceptions.RetryError as error:
            # The deadline passed while transient errors kept coming: report the last one.
            cause = error.cause
            if isinstance(cause, self._exceptions.GoogleAPICallError):
                mapped = _map_error(action, cause, self._exceptions)
                mapped.message = f"{mapped.message} (still failing when the deadline passed)"
                raise mapped from None
            raise SecretStoreError(
                f"could not {action}: Secret Manager kept failing until the deadline; "
                "run again later",
                code="secret_manager_unavailable",
            ) from None


def _make_client(secretmanager: Any, emulator_host: str | None) -> Any:
    if not emulator_host:
        return secretmanager.SecretManagerServiceClient()
    import grpc  # noqa: PLC0415
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (  # noqa: PLC0415
        SecretManagerServiceGrpcTransport,
    )

    # Passing credentials as well would raise ValueError; the channel carries none.
    channel = grpc.insecure_channel(emulator_host)
    return secretmanager.SecretManagerServiceClient(
        transport=SecretManagerServiceGrpcTransport(channel=channel)
    )


def _version_info(version: Any) -> VersionInfo:
    create_time: datetime = version.create_time
    return VersionInfo(
        name=str(version.name),
        number=version_number(str(version.name)),
        create_time=create_time,
        etag=str(version.etag),
    )


# gRPC status name -> (our code, what to do). Codes stay short so alerts can match on them.
_ADVICE: dict[str, tuple[str, str]] = {
    "NotFound": ("not_found", "check the secret name in ROTATION_SECRETS and that it exists"),
    "PermissionDenied": (
        "permission_denied",
        "grant the function's service account the rotation role on this secret (deploy.sh does)",
    ),
    "FailedPrecondition": (
        "failed_precondition",
        "the version is not in a state that allows this; check its state in Secret Manager",
    ),
    "ServiceUnavailable": ("secret_manager_unavailable", "run again later"),
    "DeadlineExceeded": ("secret_manager_timeout", "run again later"),
    "ResourceExhausted": (
        "secret_manager_quota",
        "Secret Manager's quota is exhausted; run again later or spread the schedule",
    ),
    "InvalidArgument": ("invalid_argument", "check the secret name and payload"),
    "Unauthenticated": (
        "unauthenticated",
        "the function's credentials were refused; check its service account",
    ),
}


def _map_error(action: str, error: GoogleAPICallError, exceptions: Any) -> SecretStoreError:
    if (
        isinstance(error, exceptions.Aborted | exceptions.FailedPrecondition)
        and "etag" in str(error.message).lower()
    ):
        return SecretStoreError(
            f"could not {action}: it changed meanwhile (etag mismatch)", code="conflict"
        )
    code, advice = _ADVICE.get(type(error).__name__, ("secret_manager_error", "run again later"))
    detail = scrub(str(error.message or type(error).__name__))
    return SecretStoreError(f"could not {action}: {detail}; {advice}", code=code)
