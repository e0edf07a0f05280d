"""Values registered by a request's worker threads are scrubbed from the whole request only."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from momento_key_common import redact

SECRET = "refresh-token-canary-0042"


def test_a_value_a_worker_registers_is_scrubbed_from_the_requests_response() -> None:
    with redact.request_scope():
        context = contextvars.copy_context()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(context.run, redact.register, [SECRET]).result()
        assert redact.scrub(f"echoed {SECRET}") == f"echoed {redact.REDACTED}"
    assert redact.scrub(SECRET) == SECRET, "forgotten when the request ends"


def test_concurrent_requests_do_not_see_each_others_values() -> None:
    def request(value: str) -> str:
        with redact.request_scope():
            redact.register([value])
            return redact.scrub(f"{SECRET} {value}")

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(request, [SECRET, "another-secret-value"])
    assert first == f"{redact.REDACTED} {redact.REDACTED}"
    assert second == f"{SECRET} {redact.REDACTED}"
