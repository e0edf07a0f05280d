"""The errors the rotation reports, and the one list of their codes.

Every error carries a machine-readable :class:`ErrorCode` and a message that names the resource
and says what to do. No message ever contains a key, a refresh token or a payload: callers build
messages from what they know, and :mod:`momento_key_common.redact` scrubs anything a library echoed.

Code branches on *kinds* of error with ``isinstance`` (:class:`ConflictError`,
:class:`MomentoAuthenticationError`, ...), never by comparing code strings. Errors are never
edited after they are raised: a caller that knows more raises a new error ``from None``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a response, log line or exit can carry. Alerts match on these; keep them."""

    # configuration and requests
    INVALID_CONFIG = "invalid_config"
    INVALID_REQUEST = "invalid_request"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    INVALID_JSON = "invalid_json"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_FIELD = "invalid_field"
    SECRET_NOT_CONFIGURED = "secret_not_configured"
    # the stored token document
    INVALID_TOKEN_DOCUMENT = "invalid_token_document"
    DOCUMENT_TOO_LARGE = "document_too_large"
    V2_KEY_NOT_REFRESHABLE = "v2_key_not_refreshable"
    KEY_EXPIRED = "key_expired"
    KEY_EXPIRES_SOON = "key_expires_soon"
    SCHEDULE_TOO_SPARSE = "schedule_too_sparse"
    LATEST_VERSION_NOT_ENABLED = "latest_version_not_enabled"
    LATEST_VERSION_UNREADABLE = "latest_version_unreadable"
    # Secret Manager
    SECRET_MANAGER_ERROR = "secret_manager_error"
    NOT_FOUND = "not_found"
    SECRET_DELETED = "secret_deleted"
    SECRET_EXPIRING = "secret_expiring"
    LOCATION_NOT_SERVED = "location_not_served"
    PERMISSION_DENIED = "permission_denied"
    FAILED_PRECONDITION = "failed_precondition"
    CONFLICT = "conflict"
    SECRET_MANAGER_UNAVAILABLE = "secret_manager_unavailable"
    SECRET_MANAGER_TIMEOUT = "secret_manager_timeout"
    SECRET_MANAGER_QUOTA = "secret_manager_quota"
    SECRET_MANAGER_INTERNAL = "secret_manager_internal"
    INVALID_ARGUMENT = "invalid_argument"
    UNAUTHENTICATED = "unauthenticated"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    NO_CREDENTIALS = "no_credentials"
    CREDENTIALS_REFUSED = "credentials_refused"
    EMULATOR_UNREACHABLE = "emulator_unreachable"
    SWEEP_INCOMPLETE = "sweep_incomplete"
    ANNOTATIONS_TOO_LARGE = "annotations_too_large"
    # Momento
    MOMENTO_ERROR = "momento_error"
    AUTHENTICATION = "authentication"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    MOMENTO_INTERNAL = "momento_internal"
    LIMIT_EXCEEDED = "limit_exceeded"
    INVALID_RESPONSE = "invalid_response"
    # after a refresh
    REFRESHED_NOT_STORED = "refreshed_not_stored"
    KEY_NOT_EXTENDED = "key_not_extended"
    REFRESH_TOKEN_MISSING = "refresh_token_missing"
    STORED_DOCUMENT_UNREADABLE = "stored_document_unreadable"
    NEW_KEY_REJECTED = "new_key_rejected"
    # Pub/Sub events
    INVALID_EVENT = "invalid_event"
    SECRET_NOT_MANAGED = "secret_not_managed"
    # a bug
    INTERNAL_ERROR = "internal_error"

    @property
    def transient(self) -> bool:
        """Whether the same call may succeed later unchanged: worth a Pub/Sub redelivery."""
        return self in _TRANSIENT

    @property
    def http_status(self) -> int:
        """The HTTP status a request refused with this code is answered with: the caller's
        mistakes are 4xx; anything else that stops a whole run is a 500, so Scheduler retries."""
        return _HTTP_STATUS.get(self, 500)


_TRANSIENT = frozenset(
    {
        ErrorCode.SECRET_MANAGER_UNAVAILABLE,
        ErrorCode.SECRET_MANAGER_TIMEOUT,
        ErrorCode.SECRET_MANAGER_QUOTA,
        # INTERNAL that outlasted the retries, once the credentials were shown not to be the
        # cause (a refused credential surfaces as INTERNAL too; see rotation.adapters.secret_store).
        ErrorCode.SECRET_MANAGER_INTERNAL,
        ErrorCode.UNAVAILABLE,
        ErrorCode.MOMENTO_INTERNAL,
        ErrorCode.LIMIT_EXCEEDED,
        # Momento may not have completed the refresh: a retry then works, and if it had, the
        # retry is refused with a message saying so (a permanent failure, not redelivered).
        ErrorCode.TIMEOUT,
    }
)


# The request's own faults (RFC 9110): what the caller must change before sending it again.
_HTTP_STATUS = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.UNKNOWN_FIELD: 400,
    ErrorCode.INVALID_FIELD: 400,
    ErrorCode.SECRET_NOT_CONFIGURED: 403,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_CONTENT_TYPE: 415,
}


class RotationError(Exception):
    """Base of every error this package raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(RotationError):
    """An environment variable (or the CLI flag standing for it) has a value we cannot use."""

    code = ErrorCode.INVALID_CONFIG


class RequestError(RotationError):
    """The HTTP request is malformed; its code says how, and the HTTP status to answer with."""

    code = ErrorCode.INVALID_REQUEST

    @property
    def status(self) -> int:
        return self.code.http_status


class TokenDocumentError(RotationError):
    """The stored payload is not a usable Momento token document."""

    code = ErrorCode.INVALID_TOKEN_DOCUMENT


class NotRefreshableError(RotationError):
    """The key is well formed, but Momento cannot refresh it: one of the two kinds below."""


class V2KeyError(NotRefreshableError):
    """A v2 key: Momento refreshes v1 keys only."""

    code = ErrorCode.V2_KEY_NOT_REFRESHABLE


class KeyExpiredError(NotRefreshableError):
    """The key has expired: Momento refuses to refresh it."""

    code = ErrorCode.KEY_EXPIRED


class SecretStoreError(RotationError):
    """Secret Manager refused or failed a call."""

    code = ErrorCode.SECRET_MANAGER_ERROR


class SetupError(SecretStoreError):
    """The caller's environment cannot reach Secret Manager at all: no credentials, credentials
    refused, or no emulator listening where one is configured. Retrying will not help; the
    message says what to run or set."""


class ConflictError(SecretStoreError):
    """A compare-and-swap lost: the resource's etag changed since it was read.

    Recognised by status code (FAILED_PRECONDITION or ABORTED on a call that sent an etag) and
    confirmed by re-reading the resource, never by the wording of the service's message.
    """

    code = ErrorCode.CONFLICT


class MomentoError(RotationError):
    """Momento's auth service refused or failed a call."""

    code = ErrorCode.MOMENTO_ERROR


class MomentoAuthenticationError(MomentoError):
    """Momento did not accept the key or the refresh token."""

    code = ErrorCode.AUTHENTICATION


class MomentoTimeoutError(MomentoError):
    """Momento did not answer in time; it may still have completed the call."""

    code = ErrorCode.TIMEOUT


class KeyNotStoredError(RotationError):
    """Momento refreshed the key but Secret Manager did not store it.

    The worst outcome a rotator can have: the old refresh token is spent and the new key exists
    only in this process. The message says so plainly, and what to do.
    """

    code = ErrorCode.REFRESHED_NOT_STORED
