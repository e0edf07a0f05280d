"""Cloud Functions entry points. Each only parses, calls into ``rotation`` and formats."""

from __future__ import annotations

import os

import flask
import functions_framework

from rotation.config import load_config
from rotation.http import handle
from rotation.runtime import Runtime

# Parsed at start, so a misconfigured deployment fails loudly before its first request.
# Clients inside are built lazily, on first use.
_runtime = Runtime(load_config(os.environ))


@functions_framework.http
def rotate(request: flask.Request) -> flask.Response:
    """Rotate the configured Momento keys (HTTP target ``rotate``, called by Cloud Scheduler)."""
    body, status, headers = handle(
        _runtime,
        request.method,
        request.get_data(cache=False),
        request.content_type,
    )
    return flask.Response(flask.json.dumps(body), status=status, headers=headers)
