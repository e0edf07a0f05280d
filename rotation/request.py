"""The body of a rotation request: ``{"secrets": [...], "force": bool, "dry_run": bool}``.

Pure: takes the raw bytes and content type, returns a validated request or a RequestError whose
message names the offending field. Nothing here echoes the body back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rotation.config import Config, resolve_secret_name
from rotation.errors import ConfigError, RequestError

MAX_BODY_BYTES = 16 * 1024
_FIELDS = {"secrets": list, "force": bool, "dry_run": bool}
_JSON_TYPES = ("application/json", "text/json")


@dataclass(frozen=True)
class RotationRequest:
    secrets: tuple[str, ...]
    force: bool
    dry_run: bool


def parse_request(body: bytes, content_type: str | None, config: Config) -> RotationRequest:
    """Validate the body against the configuration; an empty body means "all, as configured"."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(
            f"the request body is larger than {MAX_BODY_BYTES} bytes; send at most the fields "
            "secrets, force and dry_run",
            status=413,
            code="body_too_large",
        )
    fields = _fields(body, content_type)
    for name, value in fields.items():
        expected = _FIELDS.get(name)
        if expected is None:
            raise RequestError(
                f"unknown field {_short(name)}; accepted fields are secrets, force and dry_run",
                code="unknown_field",
            )
        if not isinstance(value, expected):
            kind = "a list of secret names" if expected is list else "true or false"
            raise RequestError(f"field {name} must be {kind}", code="invalid_field")
    return RotationRequest(
        secrets=_selected_secrets(fields.get("secrets"), config),
        force=bool(fields.get("force", False)),
        dry_run=bool(fields.get("dry_run", False)) or config.dry_run,
    )


def _fields(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not body.strip():
        return {}
    media_type = (content_type or "").split(";")[0].strip().lower()
    # Cloud Scheduler sends application/octet-stream unless told otherwise; accept it as JSON.
    if media_type and media_type not in (*_JSON_TYPES, "application/octet-stream"):
        raise RequestError(
            f"content type {_short(media_type)} is not supported; send application/json",
            status=415,
            code="unsupported_content_type",
        )
    try:
        fields = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise RequestError(
            "the request body is not JSON; send an object such as "
            '{"secrets": ["my-secret"], "force": false, "dry_run": false} or no body',
            code="invalid_json",
        ) from None
    if not isinstance(fields, dict):
        raise RequestError(
            "the request body must be a JSON object with the fields secrets, force and dry_run",
            code="invalid_json",
        )
    return fields


def _selected_secrets(requested: list[Any] | None, config: Config) -> tuple[str, ...]:
    if requested is None:
        return config.secrets
    if not requested:
        raise RequestError(
            "field secrets is an empty list; leave it out to rotate every configured secret",
            code="invalid_field",
        )
    selected: list[str] = []
    for index, name in enumerate(requested):
        if not isinstance(name, str):
            raise RequestError(f"field secrets[{index}] must be a string", code="invalid_field")
        try:
            full = resolve_secret_name(name, config.project, source=f"field secrets[{index}]")
        except ConfigError as error:
            raise RequestError(error.message, code="invalid_field") from None
        if full not in config.secrets:
            raise RequestError(
                f"secret {_short(name)} is not configured for rotation; configured: "
                f"{', '.join(config.secrets)}",
                status=403,
                code="secret_not_configured",
            )
        selected.append(full)
    return tuple(dict.fromkeys(selected))


def _short(text: str) -> str:
    shown = text if len(text) <= 64 and text.isprintable() else text[:32].encode().hex() + "..."
    return repr(shown)
