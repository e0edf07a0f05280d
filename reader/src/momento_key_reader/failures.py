"""Why a read of the key failed, in words that hold no secret value, and what to do.

Secret Manager's errors are told apart by gRPC status code, through the mapping the function
uses too (momento_key_common.grpc_status); google-auth's by their kind. The advice is for the
application's operator, not the function's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from momento_key_common import redact
from momento_key_common.errors import ErrorCode, RotationError
from momento_key_common.grpc_status import secret_manager_meaning, status_name


@dataclass(frozen=True)
class Failure:
    """Why a read failed, in words that hold no secret value."""

    code: ErrorCode
    reason: str
    advice: str  # what to do; empty when the reason already says it
    transient: bool = False

    def explained(self) -> str:
        """The reason, then what to do: each said once."""
        return f"{self.reason}; {self.advice}" if self.advice else self.reason


# What to do, by gRPC status: the reader's audience is the application's operator, not the
# function's. The code and whether it is transient come from momento_key_common.grpc_status,
# the one mapping the function uses too.
ADVICE: Final[dict[str, str]] = {
    "NOT_FOUND": "check the secret name, and that the secret has a version",
    "PERMISSION_DENIED": (
        "grant this application's service account roles/secretmanager.secretAccessor on the secret"
    ),
    # Secret Manager answers FAILED_PRECONDITION both for a latest version that is not ENABLED
    # and for an ENABLED one whose customer-managed encryption key (CMEK) is disabled. Telling
    # which would take a get, which the reader never makes (quota), so the advice names both,
    # after the service's own message (in the reason), which may say which.
    "FAILED_PRECONDITION": (
        "the latest version is disabled or destroyed, or the Cloud KMS key that encrypts it is "
        "disabled: check the version's state and the key"
    ),
    "UNAUTHENTICATED": "Secret Manager refused this application's credentials; check them",
    "INVALID_ARGUMENT": "check the secret name",
    "RESOURCE_EXHAUSTED": (
        "the project's Secret Manager quota is exhausted; it is retried, but find what else "
        "reads secrets so often"
    ),
}
TRANSIENT_ADVICE: Final = "it is retried"


def failure_of(error: Exception, known_secrets: tuple[str, ...]) -> Failure:
    reason = _reason(error, known_secrets)
    if isinstance(error, RotationError):
        # rotation's own (a token document that can't be used): its message says what to do.
        return Failure(error.code, reason, "", error.code.transient)
    status = _grpc_status(error)
    if status is not None:
        code = secret_manager_meaning(status).code
        if status == "FAILED_PRECONDITION":
            code = ErrorCode.LATEST_VERSION_NOT_ENABLED  # the version, or its key (see above)
        advice = ADVICE.get(status, TRANSIENT_ADVICE if code.transient else "try again")
        return Failure(code, reason, advice, code.transient)
    credentials = _credentials_failure(error, reason)
    if credentials is not None:
        return credentials
    return Failure(
        ErrorCode.SECRET_MANAGER_ERROR,
        # Only the type: the text of an error we do not know could hold anything.
        f"reading it raised {type(error).__name__}",
        "it is retried; if it persists, this is a bug in the reader",
    )


def _grpc_status(error: Exception) -> str | None:
    """The gRPC status name of a Secret Manager error; None for anything else."""
    from google.api_core import exceptions  # noqa: PLC0415 - loaded with the client anyway

    return status_name(error) if isinstance(error, exceptions.GoogleAPICallError) else None


def _credentials_failure(error: Exception, reason: str) -> Failure | None:
    """google-auth's errors: no credentials, refused ones, or no way to reach Google."""
    from google.auth import exceptions  # noqa: PLC0415 - loaded with the client anyway

    if isinstance(error, exceptions.DefaultCredentialsError):
        return Failure(
            ErrorCode.NO_CREDENTIALS,
            reason,
            "no Google credentials were found: run with a service account, or run `gcloud "
            "auth application-default login`, or set SECRET_MANAGER_EMULATOR_HOST for an "
            "emulator",
        )
    if isinstance(error, exceptions.RefreshError):
        return Failure(
            ErrorCode.CREDENTIALS_REFUSED,
            reason,
            "this application's Google credentials could not be refreshed; check them",
        )
    if isinstance(error, exceptions.TransportError):
        return Failure(
            ErrorCode.SECRET_MANAGER_UNAVAILABLE,
            reason,
            "Google's token endpoint could not be reached; it is retried",
            transient=True,
        )
    return None


def _reason(error: Exception, known_secrets: tuple[str, ...]) -> str:
    if isinstance(error, RotationError):
        return error.message  # built without secret values by momento_key_common.token
    # google.api_core errors carry the service's message. An access error cannot hold the
    # payload it failed to send, but scrub the key we hold anyway, as the function does.
    message = getattr(error, "message", None)
    detail = message if isinstance(message, str) and message else type(error).__name__
    return f"Secret Manager: {redact.without(detail, known_secrets)}".rstrip(". ")
