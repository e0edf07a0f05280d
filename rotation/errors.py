"""The errors the rotation reports.

Every error carries a short machine-readable ``code`` and a message that names the resource and
says what to do. No message ever contains a key, a refresh token or a payload: callers build
messages from what they know, and :mod:`rotation.redact` scrubs anything a library echoed.
"""

from __future__ import annotations


class RotationError(Exception):
    """Base of every error this package raises on purpose."""

    code = "rotation_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(RotationError):
    """An environment variable has a value we cannot use."""

    code = "invalid_config"


class RequestError(RotationError):
    """The HTTP request is malformed; ``status`` is the HTTP status to answer with."""

    code = "invalid_request"

    def __init__(self, message: str, *, status: int = 400, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


class TokenDocumentError(RotationError):
    """The stored payload is not a usable Momento token document."""

    code = "invalid_token_document"


class NotRefreshableError(RotationError):
    """The key is well formed, but Momento cannot refresh it (v2 key, expired key)."""

    code = "not_refreshable"


class SecretStoreError(RotationError):
    """Secret Manager refused or failed a call."""

    code = "secret_manager_error"


class MomentoError(RotationError):
    """Momento's auth service refused or failed a call."""

    code = "momento_error"


class KeyNotStoredError(RotationError):
    """Momento refreshed the key but Secret Manager did not store it.

    The worst outcome a rotator can have: the old refresh token is spent and the new key exists
    only in this process. The message says so plainly, and what to do.
    """

    code = "refreshed_not_stored"
