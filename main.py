"""Cloud Functions entry points. Each only parses, calls into ``rotation`` and formats."""

from __future__ import annotations

import os
import sys
from typing import Any

import flask
import functions_framework
from cloudevents.http import CloudEvent

from momento_key_common.errors import ConfigError, RequestError
from rotation.config import load_config
from rotation.http import handle, refuse
from rotation.pubsub import RedeliverError, handle_event
from rotation.request import read_body
from rotation.runtime import Runtime

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
    # At most MAX_BODY_BYTES + 1 bytes are read, never the whole body: a 300 MB body costs
    # 16 KiB, and one whose Content-Length says it is too large is refused unread.
    try:
        body = read_body(request.stream, request.content_length)
    except RequestError as error:
        return _respond(*refuse(error))
    return _respond(*handle(_runtime, request.method, body, request.content_type))


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


def _respond(answer: dict[str, Any], status: int, headers: dict[str, str]) -> flask.Response:
    data = flask.json.dumps(answer).encode()
    # functions-framework reads whatever is left of the request body into memory (get_data()
    # in an after_request hook) unless the response is streamed. An iterable body counts as
    # streamed, so a refused 300 MB body stays unread; it is complete, so it keeps its length.
    return flask.Response(
        iter((data,)), status=status, headers={**headers, "Content-Length": str(len(data))}
    )
