"""Structured logs: one JSON object per line on stdout, in Cloud Logging's format.

Cloud Logging reads ``severity`` and ``message`` from each line and keeps the other keys as
``jsonPayload`` fields, so events are searchable by secret, action and outcome. Every string is
scrubbed before it is written.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from rotation.redact import scrub

_lock = threading.Lock()


def log(severity: str, message: str, **fields: Any) -> None:
    """Write one structured log line. ``fields`` must be JSON-serialisable."""
    entry: dict[str, Any] = {"severity": severity, "message": message, **fields}
    line = scrub(json.dumps(entry, default=str, ensure_ascii=False))
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
