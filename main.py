"""Cloud Functions entry points. Each only parses, calls into ``rotation`` and formats."""

from __future__ import annotations

import os
import sys

import flask
import functions_framework
from cloudevents.http import CloudEvent

from momento_key_common.errors import ConfigError
from rotation.faces import http
from rotation.faces.pubsub import RedeliverError, handle_event
from rotation.rules.config import load_config
from rotation.service.runtime import Runtime

# Parsed at start, so a misconfigured deployment fails loudly before its first request.
# Clients inside are built lazily, on first use.
try:
    _runtime = Runtime(load_config(os.environ))
except ConfigError as error:
    # One clear line, not a traceback through functions-framework's module loader: the message
    # names the variable and the form it takes, which is all there is to say.
    print(f"rotation: invalid configuration: {error.message}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None


@functions_framework.http
def rotate(request: flask.Request) -> flask.Response:
    """Rotate the configured Momento keys (HTTP target ``rotate``, called by Cloud Scheduler)."""
    return http.answer(_runtime, request)


@functions_framework.cloud_event
def rotate_event(event: CloudEvent) -> None:
    """Rotate the secret a Secret Manager ``SECRET_ROTATE`` notification names (CloudEvent
    target ``rotate_event``, an Eventarc Pub/Sub trigger). Raises only to ask for redelivery."""
    handle_event(_runtime, event.data)


@functions_framework.errorhandler(RedeliverError)  # type: ignore[untyped-decorator]
def _redeliver(error: RedeliverError) -> tuple[str, int]:
    """A 500 for Pub/Sub to redeliver on. handle_event has logged its one structured line; an
    error handler keeps Flask from adding a traceback per delivery."""
    return str(error), 500
