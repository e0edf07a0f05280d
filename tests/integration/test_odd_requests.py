"""Odd input that Python's json or os.environ accept but the function must refuse by name.

Each is a 4xx (or, at start, exit 2) whose message names the field or variable, never a 500,
a traceback, or a body read whole into memory.
"""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from datetime import timedelta
from typing import Any

import functions_framework
import pytest

from rotation.faces.http import MAX_BODY_BYTES
from tests.integration.conftest import ROOT, Call, World

pytestmark = pytest.mark.reliability

DAY = timedelta(days=1)
HUGE = 300 * 1024 * 1024
MIB = 1024 * 1024


class HugeBody(io.RawIOBase):
    """A 300 MB request body made on demand: seekable (the test client measures it), counted."""

    def __init__(self, size: int = HUGE) -> None:
        self.size = size
        self.position = 0
        self.served = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        buffer[:count] = b" " * count
        self.position += count
        self.served += count
        return count


def call_streaming(world: World, stream: HugeBody, *, chunked: bool) -> tuple[Call, int]:
    """POST ``stream`` to the function: with its Content-Length, or chunked without one.

    Returns the call and the peak memory traced while the request ran (the app is made first).
    """
    os.environ.update(world.env)
    os.environ["ROTATION_SECRETS"] = ",".join(world.secrets)
    app = functions_framework.create_app(target="rotate", source=str(ROOT / "main.py"))
    client = app.test_client()
    options: dict[str, Any] = {}
    if chunked:
        # What gunicorn hands the app for a chunked request: no length, a stream it terminates.
        options = {
            "headers": {"Transfer-Encoding": "chunked"},
            "environ_overrides": {"wsgi.input_terminated": True},
        }
    tracemalloc.start()
    try:
        response = client.open(
            "/", method="POST", input_stream=stream, content_type="application/json", **options
        )
        text = response.get_data(as_text=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    world.responses.append(text)
    return Call(response.status_code, json.loads(text)), peak


@pytest.mark.parametrize(
    ("raw", "code", "names"),
    [
        pytest.param(
            b'{"force": ' + b"9" * 5000 + b"}", "invalid_field", "force", id="5000-digit-force"
        ),
        pytest.param(
            b'{"secrets": ["a"], "dry_run": -' + b"1" * 5000 + b"}",
            "invalid_field",
            "dry_run",
            id="5000-digit-anywhere",
        ),
        pytest.param(
            b'{"secrets": ["\\ud800"]}',
            "invalid_field",
            "secrets[0]",
            id="lone-surrogate-in-secrets",
        ),
        pytest.param(
            b'{"\\udcff": true}', "invalid_json", "field name", id="lone-surrogate-field-name"
        ),
        pytest.param(
            b'{"force": false, "force": true}',
            "invalid_json",
            "'force' appears more than once",
            id="duplicate-keys",
        ),
        pytest.param(b'{"force": NaN}', "invalid_field", "force", id="nan"),
        pytest.param(b'{"dry_run": Infinity}', "invalid_field", "dry_run", id="infinity"),
    ],
)
def test_odd_json_is_a_400_naming_the_field(
    world: World, raw: bytes, code: str, names: str
) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    calls_before = sum(world.secret_manager.calls.values())

    call = world.call(raw=raw)

    assert (call.status, call.body["error"]["code"]) == (400, code)
    assert names in call.body["error"]["message"]
    assert "Traceback" not in json.dumps(call.body)
    assert sum(world.secret_manager.calls.values()) == calls_before
    assert world.states(secret) == {1: "ENABLED"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_body_is_refused_while_reading(world: World, chunked: bool) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    stream = HugeBody()

    call, peak = call_streaming(world, stream, chunked=chunked)

    assert (call.status, call.body["error"]["code"]) == (413, "body_too_large")
    assert f"larger than {MAX_BODY_BYTES} bytes" in call.body["error"]["message"]
    # A declared length is refused unread; a chunked body is read one byte past the limit.
    assert stream.served <= (0 if not chunked else MAX_BODY_BYTES + 1)
    assert peak < 4 * MIB, f"peak {peak / MIB:.1f} MiB while refusing a 300 MB body"
    assert world.states(secret) == {1: "ENABLED"}


def test_a_body_at_the_limit_is_still_read(world: World) -> None:
    secret = world.new_secret()
    world.seed_key(secret, expires_in=20 * DAY)
    body = json.dumps({"secrets": [secret], "dry_run": True}).encode()
    call = world.call(raw=body + b" " * (MAX_BODY_BYTES - len(body)))
    assert call.status == 200
    assert call.only()["action"] == "skipped"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("MIN_ENABLED_VERSIONS", "²", id="superscript-digit"),
        pytest.param("MIN_ENABLED_VERSIONS", "٣", id="arabic-indic-digit"),
        pytest.param("REFRESH_BEFORE", "99999999999d", id="duration-overflow"),
        pytest.param("ROTATION_SECRETS", b"momento-\xff-key", id="not-utf8-secrets"),
        pytest.param("RETENTION", b"7d\xc3", id="not-utf8-duration"),
    ],
)
def test_cli_refuses_odd_configuration_in_one_line(
    world: World, variable: str, value: str | bytes
) -> None:
    # subprocess encodes str values and passes bytes ones as they are, like os.environb.
    settings: dict[str, Any] = {"ROTATION_SECRETS": "momento-key", variable: value}
    done = world.run_python("-m", "rotation", **settings)

    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"rotation: {variable}")
    assert "Traceback" not in done.stderr + done.stdout
    if isinstance(value, bytes):
        assert "is not valid UTF-8" in lines[0]
