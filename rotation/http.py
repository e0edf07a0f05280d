"""The HTTP face of the function: method and body in, JSON results and a status out.

Status 200 when nothing failed, 500 when any secret failed, so Cloud Scheduler retries. Errors in
the request itself are 4xx with a message naming the field; no stack trace ever reaches a
response.
"""

from __future__ import annotations

from typing import Any

from rotation import logs, redact, service
from rotation.errors import ErrorCode, RequestError
from rotation.request import parse_request
from rotation.runtime import Runtime

Response = tuple[dict[str, Any], int, dict[str, str]]
_JSON = {"Content-Type": "application/json"}


def handle(runtime: Runtime, method: str, body: bytes, content_type: str | None) -> Response:
    """Rotate the requested secrets; never raises."""
    with redact.request_scope():
        try:
            return _handle(runtime, method, body, content_type)
        except Exception as error:  # noqa: BLE001 - a JSON 500, never Flask's page and traceback
            logs.error(
                f"unexpected internal error ({type(error).__name__}); report this",
                event="rotation.internal_error",
            )
            body_json = {
                "ok": False,
                "error": {
                    "code": str(ErrorCode.INTERNAL_ERROR),
                    "message": f"unexpected internal error ({type(error).__name__}); see the "
                    "function's logs and report this",
                },
                "results": [],
            }
            return body_json, 500, dict(_JSON)


def _handle(runtime: Runtime, method: str, body: bytes, content_type: str | None) -> Response:
    if method != "POST":
        return _error(
            RequestError(
                f"method {method} is not allowed; send POST",
                status=405,
                code=ErrorCode.METHOD_NOT_ALLOWED,
            ),
            extra_headers={"Allow": "POST"},
        )
    try:
        request = parse_request(body, content_type, runtime.config)
    except RequestError as error:
        return _error(error)
    outcome = service.run(runtime, request)
    return outcome.to_json(), 200 if outcome.ok else 500, dict(_JSON)


def _error(error: RequestError, extra_headers: dict[str, str] | None = None) -> Response:
    logs.warning(
        f"rejected request: {error.message}",
        event="rotation.request_rejected",
        code=str(error.code),
    )
    body = {
        "ok": False,
        "error": {"code": str(error.code), "message": error.message},
        "results": [],
    }
    return body, error.status, {**_JSON, **(extra_headers or {})}
