"""Hostile and malformed input: a clear error, the secret untouched, no stack trace, no leak."""

from __future__ import annotations

import json
from datetime import timedelta

import grpc
import pytest

from tests.integration.conftest import PROJECT, World

pytestmark = pytest.mark.reliability

DAY = timedelta(days=1)
CANARY_KEY = "canary-api-key-0123456789abcdef"
CANARY_TOKEN = "canary-refresh-token-0123456789abcdef"


def payloads(world: World) -> dict[str, tuple[bytes, str]]:
    """Stored payloads, each with the error code it must produce."""
    good = world.issue(expires_in=DAY)
    v2 = world.issue(expires_in=DAY, form="v2")
    doc = good.console_json()
    return {
        "not-json": (b"apiKey=" + CANARY_KEY.encode(), "invalid_token_document"),
        "json-array": (json.dumps([CANARY_KEY, CANARY_TOKEN]).encode(), "invalid_token_document"),
        "json-string": (json.dumps(CANARY_KEY).encode(), "invalid_token_document"),
        "missing-key": (
            json.dumps({"refreshToken": CANARY_TOKEN}).encode(),
            "invalid_token_document",
        ),
        "empty-key": (json.dumps({**doc, "apiKey": ""}).encode(), "invalid_token_document"),
        # A working key nobody can refresh, due within REFRESH_BEFORE: its own code.
        "missing-refresh-token": (
            json.dumps({"apiKey": good.api_key}).encode(),
            "refresh_token_missing",
        ),
        "empty-refresh-token": (
            json.dumps({**doc, "refreshToken": " "}).encode(),
            "refresh_token_missing",
        ),
        "key-wrong-type": (
            json.dumps({**doc, "apiKey": {"k": CANARY_KEY}}).encode(),
            "invalid_token_document",
        ),
        "token-wrong-type": (
            json.dumps({**doc, "refreshToken": 12345}).encode(),
            "invalid_token_document",
        ),
        "valid-until-wrong-type": (
            json.dumps({**doc, "validUntil": [1]}).encode(),
            "invalid_token_document",
        ),
        "key-not-momento": (
            json.dumps({**doc, "apiKey": CANARY_KEY}).encode(),
            "invalid_token_document",
        ),
        "v2-key": (json.dumps(v2.console_json()).encode(), "v2_key_not_refreshable"),
        "v2-key-without-refresh-token": (
            json.dumps({"apiKey": v2.api_key, "validUntil": v2.valid_until}).encode(),
            "v2_key_not_refreshable",
        ),
        "deeply-nested": (b"[" * 20_000 + b"]" * 20_000, "invalid_token_document"),
        "not-utf8": (b"\xff\xfe" + CANARY_TOKEN.encode("utf-16-le"), "invalid_token_document"),
        "number-with-5000-digits": (
            b'{"apiKey": "' + CANARY_KEY.encode() + b'", "n": 1' + b"0" * 5000 + b"}",
            "invalid_token_document",
        ),
        "lone-surrogate": (
            json.dumps({**doc, "note": "\ud800"}).encode(),
            "invalid_token_document",
        ),
        "two-different-keys": (
            json.dumps({**doc, "authToken": world.issue(expires_in=DAY).api_key}).encode(),
            "invalid_token_document",
        ),
        "too-large-to-rewrite": (
            json.dumps({**doc, "padding": "p" * (64 * 1024 - 2048)}).encode(),
            "document_too_large",
        ),
    }


CASES = [
    "not-json",
    "json-array",
    "json-string",
    "missing-key",
    "empty-key",
    "missing-refresh-token",
    "empty-refresh-token",
    "key-wrong-type",
    "token-wrong-type",
    "valid-until-wrong-type",
    "key-not-momento",
    "v2-key",
    "v2-key-without-refresh-token",
    "deeply-nested",
    "not-utf8",
    "number-with-5000-digits",
    "lone-surrogate",
    "two-different-keys",
    "too-large-to-rewrite",
]


@pytest.mark.parametrize("case", CASES)
def test_malformed_payload_fails_clearly_and_touches_nothing(world: World, case: str) -> None:
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=30 * DAY)
    payload, code = payloads(world)[case]
    world.seed(secret, payload, age=20 * DAY)
    attempts = world.momento.refresh_attempts

    call = world.call()

    assert call.status == 500
    result = call.only()
    assert result["error"]["code"] == code
    assert "Traceback" not in json.dumps(call.body)
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}
    assert world.momento.refresh_attempts == attempts, "Momento is never called"
    assert CANARY_KEY not in json.dumps(call.body) and CANARY_TOKEN not in json.dumps(call.body)


def test_byte_order_mark_is_tolerated(world: World) -> None:
    secret = world.new_secret()
    world.seed(
        secret, b"\xef\xbb\xbf" + json.dumps(world.issue(expires_in=DAY).console_json()).encode()
    )
    assert world.call().only()["action"] == "refreshed"
    assert not world.secret_manager.payload(secret).startswith(b"\xef\xbb\xbf")


def test_payload_at_the_64_kib_limit_is_read(world: World) -> None:
    secret = world.new_secret()
    document = world.issue(expires_in=20 * DAY).console_json()
    base = len(json.dumps({**document, "padding": ""}).encode())
    world.seed(secret, {**document, "padding": "p" * (64 * 1024 - base)})
    assert len(world.secret_manager.payload(secret)) == 64 * 1024
    assert world.call().only()["action"] == "skipped"


@pytest.mark.parametrize("state", ["DISABLED", "DESTROYED"])
def test_latest_version_disabled_or_destroyed(world: World, state: str) -> None:
    secret = world.new_secret()
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=30 * DAY)
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=20 * DAY, state=state)
    error = world.call().only()["error"]
    assert error["code"] == "latest_version_not_enabled"
    assert "enable the version with the working key" in error["message"]
    assert world.states(secret) == {1: "ENABLED", 2: state}


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"{" + b'"x": 1,' * 4000 + b"}", "application/json", 413, "body_too_large"),
        (b"secrets=a", "application/x-www-form-urlencoded", 415, "unsupported_content_type"),
        (b"<xml/>", "text/xml", 415, "unsupported_content_type"),
        (
            b'{"secrets": ["a"], "rotate_everything": true}',
            "application/json",
            400,
            "unknown_field",
        ),
        (
            json.dumps({"secrets": [f"projects/{PROJECT}/secrets/not-configured"]}).encode(),
            "application/json",
            403,
            "secret_not_configured",
        ),
        (
            b'{"secrets": ["../../projects/other/secrets/x"]}',
            "application/json",
            400,
            "invalid_field",
        ),
        (
            b'{"secrets": ["projects/demo-project/secrets/a/versions/1"]}',
            "application/json",
            400,
            "invalid_field",
        ),
        (b'{"secrets": ["a\\u0000b"]}', "application/json", 400, "invalid_field"),
        (b'{"secrets": ["%2e%2e%2fsecret"]}', "application/json", 400, "invalid_field"),
        (b"\xff\xfe\xfd", "application/json", 400, "invalid_json"),
        (b"null", "application/json", 400, "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "invalid_json"),
    ],
    ids=[
        "too-large",
        "form-encoded",
        "xml",
        "unknown-field",
        "not-configured",
        "dot-dot",
        "version-path",
        "nul-byte",
        "percent-encoded",
        "not-utf8",
        "null",
        "deeply-nested",
    ],
)
def test_hostile_requests_are_refused_and_touch_nothing(
    world: World, raw: bytes, content_type: str, status: int, code: str
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    calls_before = sum(world.secret_manager.calls.values())

    call = world.call(raw=raw, content_type=content_type)

    assert (call.status, call.body["error"]["code"]) == (status, code)
    assert "Traceback" not in json.dumps(call.body)
    assert sum(world.secret_manager.calls.values()) == calls_before
    assert world.states(secret) == {1: "ENABLED"}


@pytest.mark.parametrize(
    ("service", "rpc"),
    [
        ("momento", "RefreshApiToken"),
        ("secret_manager", "AddSecretVersion"),
        ("secret_manager", "ListSecretVersions"),
    ],
)
def test_library_error_text_that_echoes_secrets_is_scrubbed(
    world: World, service: str, rpc: str
) -> None:
    """A server whose error message quotes the key and token it was sent."""
    secret = world.new_secret()
    issued = world.seed_key(secret, expires_in=DAY)
    echo = f"bad request: api_key={issued.jwt} refresh_token={issued.refresh_token}"
    emulator = world.momento if service == "momento" else world.secret_manager
    emulator.inject_fault(rpc, grpc.StatusCode.INVALID_ARGUMENT, times=-1, message=echo)

    call = world.call()

    assert call.status == 500
    assert "[REDACTED]" in call.only()["error"]["message"]
    # The world fixture's teardown searches all output and responses for the values themselves.
