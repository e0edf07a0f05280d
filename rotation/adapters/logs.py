"""Structured logs: one JSON object per line on stdout, in Cloud Logging's format.

Cloud Logging reads ``severity`` and ``message`` from each line and keeps the other keys as
``jsonPayload`` fields, so events are searchable by secret, action and outcome. Every string is
scrubbed before it is written.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from momento_key_common.redact import scrub

_lock = threading.Lock()
# None: sys.stdout as it is at each write (Cloud Logging reads stdout; tests swap it).
_stream: TextIO | None = None


def write_to(stream: TextIO | None) -> None:
    """Send log lines to ``stream`` (None: stdout). The CLI keeps stdout for its result."""
    global _stream  # noqa: PLW0603 - one process-wide log destination, set by the entry point
    _stream = stream


def log(severity: str, message: str, **fields: Any) -> None:
    """Write one structured log line. ``fields`` must be JSON-serialisable."""
    entry: dict[str, Any] = {"severity": severity, "message": message, **fields}
    line = scrub(json.dumps(entry, default=str, ensure_ascii=False))
    with _lock:
        stream = _stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
