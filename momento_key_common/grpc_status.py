"""What a Secret Manager status code means to us: the one mapping, by gRPC status code.

Google's client raises ``google.api_core.exceptions`` errors, each carrying its gRPC status
(``grpc_status_code``, or the HTTP status for errors that never reached gRPC). They reach this
table by the status code's name (``"INTERNAL"``), never by an exception's class name or its
message text, which no Google page documents.

Transient everywhere: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and INTERNAL. The same
call may succeed later unchanged, so a Pub/Sub delivery that met one is redelivered. One
exception the adapter handles before this table: a credential Google refuses also surfaces as
INTERNAL (PLATFORM.md), and retrying that for days helps nobody.

Pure: no gRPC import, so the function and the reader (momento_key_reader) share it at no cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from momento_key_common.errors import ErrorCode


@dataclass(frozen=True)
class Meaning:
    """Our code for a status, and what the operator should do about it."""

    code: ErrorCode
    advice: str


SECRET_MANAGER: dict[str, Meaning] = {
    "NOT_FOUND": Meaning(ErrorCode.NOT_FOUND, "check the name, and that it exists"),
    "PERMISSION_DENIED": Meaning(
        ErrorCode.PERMISSION_DENIED,
        "grant the function's service account the rotation role on this secret (deploy.sh "
        "does); if the secret was deleted, its per-secret grant went with it, and Secret "
        "Manager answers this way too",
    ),
    "FAILED_PRECONDITION": Meaning(
        ErrorCode.FAILED_PRECONDITION,
        "the resource is not in a state that allows this; check it in Secret Manager",
    ),
    "ABORTED": Meaning(ErrorCode.FAILED_PRECONDITION, "it changed concurrently; run again"),
    "UNAVAILABLE": Meaning(ErrorCode.SECRET_MANAGER_UNAVAILABLE, "run again later"),
    "DEADLINE_EXCEEDED": Meaning(ErrorCode.SECRET_MANAGER_TIMEOUT, "run again later"),
    "RESOURCE_EXHAUSTED": Meaning(
        ErrorCode.SECRET_MANAGER_QUOTA,
        "Secret Manager's quota is exhausted; run again later or spread the schedule",
    ),
    "INTERNAL": Meaning(
        ErrorCode.SECRET_MANAGER_INTERNAL,
        "Secret Manager failed internally, and the credentials were accepted; run again later",
    ),
    "INVALID_ARGUMENT": Meaning(ErrorCode.INVALID_ARGUMENT, "check the secret name and payload"),
    "UNAUTHENTICATED": Meaning(
        ErrorCode.UNAUTHENTICATED,
        "the function's credentials were refused; check its service account",
    ),
}
_UNKNOWN = Meaning(ErrorCode.SECRET_MANAGER_ERROR, "run again later")

# google.api_core's HTTP statuses for errors that carry no gRPC status (AIP-193's table).
_HTTP_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_name(error: Any) -> str:
    """The gRPC status name of a ``google.api_core.exceptions.GoogleAPICallError``."""
    status = getattr(error, "grpc_status_code", None)
    name = getattr(status, "name", None)
    if isinstance(name, str):
        return name
    return _HTTP_STATUSES.get(getattr(error, "code", None) or 0, "UNKNOWN")


def secret_manager_meaning(status: str) -> Meaning:
    return SECRET_MANAGER.get(status, _UNKNOWN)
