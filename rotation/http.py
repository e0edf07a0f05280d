"""The HTTP face of the function: method and body in, JSON results and a status out.

Status 200 when nothing failed, 500 when any secret failed, so Cloud Scheduler retries. Errors in
the request itself are 4xx with a message naming the field; no stack trace ever reaches a
response.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from momento_key_common import redact
from momento_key_common.errors import (
    ErrorCode,
    RequestError,
    RotationError,
    SecretStoreError,
    SetupError,
)
from rotation import logs, service
from rotation.config import Config
from rotation.discovery import managed_secrets
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
                f"method {method} is not allowed; send POST", code=ErrorCode.METHOD_NOT_ALLOWED
            ),
            405,
            extra_headers={"Allow": "POST"},
        )
    try:
        config = _managed(runtime)
        request = parse_request(
            body,
            content_type,
            config,
            configured_as=lambda name: runtime.configured_as(name, config.secrets),
        )
        # Builds the client now: no credentials, or no emulator, is one error for the whole run.
        runtime.store()
    except RequestError as error:
        return _error(error, error.status)
    except SetupError as error:
        # No secret can be read: one error for the whole run, and a 500 so Scheduler retries.
        return _error(error, 500, event="rotation.setup_failed")
    except SecretStoreError as error:
        return _error(error, 500, event="rotation.discovery_failed")
    outcome = service.run(runtime, request)
    return outcome.to_json(), 200 if outcome.ok else 500, dict(_JSON)


def _managed(runtime: Runtime) -> Config:
    """The configuration with every managed secret. With ROTATION_LABEL that takes one list
    call; without it, none (and a malformed request is refused before any client is built)."""
    if runtime.config.rotation_label is None:
        return runtime.config
    return replace(runtime.config, secrets=managed_secrets(runtime.config, runtime.store()))


def refuse(error: RequestError) -> Response:
    """The answer to a request refused before :func:`handle`, e.g. a body too large to read."""
    return _error(error, error.status)


def _error(
    error: RotationError,
    status: int,
    *,
    event: str = "rotation.request_rejected",
    extra_headers: dict[str, str] | None = None,
) -> Response:
    log = logs.error if status >= 500 else logs.warning
    prefix = "rejected request" if status < 500 else "cannot rotate"
    log(f"{prefix}: {error.message}", event=event, code=str(error.code))
    body = {
        "ok": False,
        "error": {"code": str(error.code), "message": error.message},
        "results": [],
    }
    return body, status, {**_JSON, **(extra_headers or {})}
