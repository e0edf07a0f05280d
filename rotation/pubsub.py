"""The Pub/Sub face of the function: a Secret Manager notification in, one secret rotated.

Secret Manager publishes ``SECRET_ROTATE`` when a secret's rotation schedule comes due. The
owner asked for a rotation at that time, so the key is refreshed whatever ``REFRESH_BEFORE``
says (a forced rotation), then the retention sweep runs as for HTTP.

Pub/Sub delivers at least once, and Eventarc redelivers when the function fails, so:

- **Idempotent.** A version created after the message was published means the rotation it
  asked for already happened (an earlier delivery, or a run that beat it): nothing is done.
  Concurrent deliveries are arbitrated by the rotation lease, as concurrent HTTP runs are.
- **Transient failures are redelivered**: :func:`handle_event` raises :class:`RedeliverError`,
  the function answers 500, and Pub/Sub tries again with backoff. So is a delivery that finds
  another run holding the lease (that run may still fail). Not redelivered: a failure after the
  new key was stored (a stopped sweep); the next run finishes it.
- **Everything else is acknowledged**, with an ERROR ``rotation.result`` line (the one the
  failure alert counts): an event for a secret this
  deployment does not manage, a malformed event, a failure that retrying cannot fix (an expired
  key, a refused refresh token). Redelivering those forever would only hide them.
- Other event types (``SECRET_VERSION_ADD``, ...) are acknowledged and ignored, at DEBUG.
"""

from __future__ import annotations

from datetime import datetime

from rotation import logs, redact
from rotation.discovery import managed_secrets
from rotation.errors import ErrorCode, RotationError
from rotation.events import EventError, parse_event
from rotation.policy import rfc3339
from rotation.ports import SecretStore
from rotation.retention import VersionInfo
from rotation.runtime import Runtime


class RedeliverError(Exception):
    """Raised so that the function fails and Pub/Sub redelivers; the message names no secret
    value, only the secret and the error code."""


def handle_event(runtime: Runtime, data: object) -> None:
    """Act on one notification. Returns to acknowledge it; raises RedeliverError to retry."""
    with redact.request_scope():
        try:
            event = parse_event(data)
        except EventError as error:
            _acknowledged_failure(error, None)
            return
        if not event.is_rotation or event.secret is None:
            logs.log(
                "DEBUG",
                f"ignored {event.event_type} notification for {event.secret}",
                event="rotation.event_ignored",
                event_type=event.event_type,
            )
            return
        _rotate(runtime, event.secret, event.published_at)


def _rotate(runtime: Runtime, named: str, published_at: datetime) -> None:
    try:
        store = runtime.store()
        secret = runtime.configured_as(named, managed_secrets(runtime.config, store))
    except RotationError as error:
        _failed(error, named)
        return
    if secret is None:
        _acknowledged_failure(
            RotationError(
                f"{named} asked for a rotation, but this deployment does not manage it; "
                "add it to ROTATION_SECRETS (deploy.sh --secrets) or give it ROTATION_LABEL's "
                "label, or remove the rotation schedule and topic from the secret",
                code=ErrorCode.SECRET_NOT_MANAGED,
            ),
            named,
        )
        return
    try:
        newer = _versions_since(store, secret, published_at)
    except RotationError as error:
        _failed(error, secret)
        return
    if newer:
        reason = (
            f"already rotated: version {newer[0].number} was created at "
            f"{rfc3339(newer[0].create_time)}, after this rotation request was published at "
            f"{rfc3339(published_at)} (a redelivery, or a run that came first)"
        )
        logs.log("INFO", f"{secret}: skipped: {reason}", event="rotation.event_skipped")
        return
    result = runtime.rotator().rotate(secret, force=True, dry_run=runtime.config.dry_run)
    if result.busy:
        # Another run holds the lease: it may still fail, and this request would then be lost.
        raise _redeliver(secret, "another run holds the rotation lease")
    # A failure: the rotator has logged its rotation.result line (which the alert counts).
    code = result.error_code
    if code is not None and code.transient and not _rotated_anyway(store, secret, published_at):
        raise _redeliver(secret, f"it failed with {code}, which may pass")


def _versions_since(store: SecretStore, secret: str, published_at: datetime) -> list[VersionInfo]:
    """Enabled versions created after the request was published, newest first."""
    newer = [v for v in store.list_enabled(secret) if v.create_time > published_at]
    return sorted(newer, key=lambda version: version.number, reverse=True)


def _rotated_anyway(store: SecretStore, secret: str, published_at: datetime) -> bool:
    """Whether the new key was stored before the failure (a sweep that stopped, say): then a
    redelivery could only find the rotation done, and the next run finishes the sweep."""
    try:
        return bool(_versions_since(store, secret, published_at))
    except RotationError:
        return False


def _failed(error: RotationError, secret: str) -> None:
    """A failure before the rotation began: redelivered if transient, else acknowledged."""
    if error.code.transient:
        raise _redeliver(secret, f"it failed with {error.code}, which may pass")
    _acknowledged_failure(error, secret)


def _redeliver(secret: str, why: str) -> RedeliverError:
    logs.warning(
        f"{secret}: not rotated yet: {why}; failing the delivery so that Pub/Sub redelivers it",
        event="rotation.event_redelivered",
    )
    return RedeliverError(f"rotation of {secret} not done yet ({why}); redeliver")


def _acknowledged_failure(error: RotationError, secret: str | None) -> None:
    # Logged as a failed rotation.result, the event deploy.sh's failure alert counts: an event
    # nobody can act on is a misconfiguration someone must hear about.
    logs.error(
        f"{secret or 'rotation event'}: failed: {error.message}; the event is acknowledged, as "
        "redelivering it cannot help",
        event="rotation.result",
        secret=secret,
        action="failed",
        error_code=str(error.code),
    )
