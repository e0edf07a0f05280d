"""The request body: optional, strict, and never able to widen what is rotated."""

from __future__ import annotations

import json

import pytest

from rotation.config import load_config
from rotation.errors import RequestError
from rotation.request import MAX_BODY_BYTES, parse_request

CONFIG = load_config(
    {"ROTATION_SECRETS": "a,b,projects/other/secrets/c", "GOOGLE_CLOUD_PROJECT": "p"}
)
ALL = ("projects/p/secrets/a", "projects/p/secrets/b", "projects/other/secrets/c")


def parse(body: object, content_type: str | None = "application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_request(raw, content_type, CONFIG)


@pytest.mark.parametrize("body", [b"", b"  \n", {}], ids=["empty", "blank", "empty-object"])
def test_no_fields_means_every_configured_secret(body: object) -> None:
    request = parse(body, content_type=None)
    assert (request.secrets, request.force, request.dry_run) == (ALL, False, False)


def test_secrets_narrow_the_run_in_short_or_full_form() -> None:
    request = parse({"secrets": ["b", "projects/other/secrets/c"], "force": True, "dry_run": True})
    assert request.secrets == ("projects/p/secrets/b", "projects/other/secrets/c")
    assert (request.force, request.dry_run) == (True, True)


def test_configured_dry_run_cannot_be_turned_off_by_a_request() -> None:
    config = load_config({"ROTATION_SECRETS": "a", "GOOGLE_CLOUD_PROJECT": "p", "DRY_RUN": "true"})
    assert parse_request(b'{"dry_run": false}', "application/json", config).dry_run is True


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "message"),
    [
        (
            {"secrets": ["zzz"]},
            "application/json",
            403,
            "secret_not_configured",
            "'zzz' is not configured",
        ),
        (
            {"secrets": ["projects/p/secrets/../a"]},
            "application/json",
            400,
            "invalid_field",
            "not a secret name",
        ),
        (
            {"secrets": ["projects/evil/secrets/a"]},
            "application/json",
            403,
            "secret_not_configured",
            "not configured",
        ),
        (
            {"secrets": "a"},
            "application/json",
            400,
            "invalid_field",
            "field secrets must be a list",
        ),
        (
            {"secrets": [1]},
            "application/json",
            400,
            "invalid_field",
            r"secrets\[0\] must be a string",
        ),
        ({"secrets": []}, "application/json", 400, "invalid_field", "empty list"),
        (
            {"force": "yes"},
            "application/json",
            400,
            "invalid_field",
            "field force must be true or false",
        ),
        (
            {"dry_run": 1},
            "application/json",
            400,
            "invalid_field",
            "field dry_run must be true or false",
        ),
        ({"forse": True}, "application/json", 400, "unknown_field", "unknown field 'forse'"),
        (b"{oops", "application/json", 400, "invalid_json", "not JSON"),
        (b"\xff\xfe", "application/json", 400, "invalid_json", "not JSON"),
        ([1, 2], "application/json", 400, "invalid_json", "must be a JSON object"),
        ({}, "text/plain", 415, "unsupported_content_type", "'text/plain' is not supported"),
        (
            b"{" + b" " * MAX_BODY_BYTES + b"}",
            "application/json",
            413,
            "body_too_large",
            "larger than",
        ),
    ],
    ids=[
        "not-configured",
        "path-trick",
        "other-project",
        "secrets-not-list",
        "secret-not-string",
        "secrets-empty",
        "force-type",
        "dry-run-type",
        "unknown-field",
        "not-json",
        "not-utf8",
        "not-object",
        "content-type",
        "too-large",
    ],
)
def test_bad_requests_are_refused_with_the_field_named(
    body: object, content_type: str, status: int, code: str, message: str
) -> None:
    with pytest.raises(RequestError, match=message) as caught:
        parse(body, content_type)
    assert (caught.value.status, caught.value.code) == (status, code)
