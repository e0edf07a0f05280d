"""The Pub/Sub face of the function: a Secret Manager notification in, one secret acted on.

Secret Manager publishes ``SECRET_ROTATE`` when a secret's rotation schedule comes due. The
owner asked for a rotation at that time, so the key is refreshed whatever ``REFRESH_BEFORE``
says (a forced rotation), then the retention sweep runs as for HTTP.

Losing the key is loud. ``SECRET_DELETE`` for a managed secret, and ``SECRET_VERSION_DISABLE``
or ``SECRET_VERSION_DESTROY`` of a managed secret's latest version (which this function never
disables), are logged at ERROR as a failed ``rotation.result``, the line the failure alert
counts, naming the secret and what to do. Redelivery cannot undo either, so they are
acknowledged.

Pub/Sub delivers at least once, and Eventarc redelivers when the function fails, so:

- **Idempotent.** A version created after the message was published means the rotation it
  asked for already happened (an earlier delivery, or a run that beat it): nothing is done. A
  ``publishTime`` in the future counts as an hour ago (the shortest rotation period), so that
  no redelivery refreshes again.
  Concurrent deliveries are arbitrated by the rotation lease, as concurrent HTTP runs are.
- **Transient failures before anything was stored are redelivered**: :func:`handle_event`
  raises :class:`RedeliverError`, the function answers 500 (one structured line, no traceback:
  see main.py), and Pub/Sub tries again with backoff. So is a delivery that finds another run
  holding the lease (that run may still fail).
- **Everything else is acknowledged**, by the contract of outcomes (rotation.rules.outcomes): a
  failure a person must fix, a key refreshed but not stored, an event for a secret this
  deployment does not manage, a malformed event. Redelivering those would only hide them.
- Other event types (``SECRET_VERSION_ADD``, ...) are acknowledged and ignored, at DEBUG.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from momento_key_common import names as secret_names
from momento_key_common import redact
from momento_key_common.errors import ErrorCode, RotationError
from rotation import service
from rotation.adapters import logs
from rotation.rules.events import DELETE, EventError, SecretEvent, parse_event
from rotation.rules.policy import rfc3339
from rotation.rules.ports import SecretStore
from rotation.rules.retention import VersionInfo
from rotation.service import Dependencies, RotationRequest
from rotation.service.discovery import managed_secrets
from rotation.service.runtime import Runtime

# Secret Manager's shortest rotation period (resources.py Rotation.rotation_period: at least 1h).
MIN_ROTATION_PERIOD = timedelta(hours=1)


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
        if event.secret is None or not (
            event.is_rotation or event.event_type == DELETE or event.loses_a_version
        ):
            _ignore(event, "not an event this function acts on")
            return
        if event.is_rotation:
            _rotate(runtime, event.secret, event.published_at, now=datetime.now(UTC))
        else:
            _key_lost(runtime, event, event.secret)


def _rotate(runtime: Runtime, named: str, published: datetime, *, now: datetime) -> None:
    published_at = _requested_at(published, now)
    try:
        dependencies = runtime.dependencies()
        store = dependencies.store
        secret = dependencies.configured_as(named, managed_secrets(runtime.config, store))
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
        when = (
            f"was published at {rfc3339(published_at)}"
            if published_at == published
            else f"claims to be published at {rfc3339(published)}, in the future, so it counts "
            f"as published at {rfc3339(published_at)}"
        )
        reason = (
            f"already rotated: version {newer[0].number} was created at "
            f"{rfc3339(newer[0].create_time)}, after this rotation request {when} "
            "(a redelivery, or a run that came first)"
        )
        logs.log("INFO", f"{secret}: skipped: {reason}", event="rotation.event_skipped")
        return
    # The owner asked for a rotation at this time: forced, whatever REFRESH_BEFORE says.
    request = RotationRequest((secret,), force=True, dry_run=runtime.config.dry_run)
    [result] = service.run(dependencies, request).results
    if result.busy and not result.failed:
        # Another run holds the lease: it may still fail, and this request would then be lost.
        # (A failure found anyway, such as the secret's own expiry, is the worse row: ack.)
        raise _redeliver(secret, "another run holds the rotation lease")
    # A failure has been logged as a rotation.result line (which the alert counts); only one
    # that may pass, before anything was stored, is worth a redelivery.
    if result.redelivery_helps:
        raise _redeliver(secret, f"it failed with {result.error_code}, which may pass")


def _requested_at(published_at: datetime, now: datetime) -> datetime:
    """When the rotation was asked for, as far as a redelivery check can trust it.

    A version created after that means the rotation happened. A ``publishTime`` in the future
    (a clock that is off) would make that never true, and each redelivery would refresh again:
    so it counts as an hour ago instead. Rotation periods are at least an hour, so a version
    created within the hour can only be this request's rotation (or a run that came first).
    """
    return published_at if published_at <= now else now - MIN_ROTATION_PERIOD


def _key_lost(runtime: Runtime, event: SecretEvent, named: str) -> None:
    """A managed secret was deleted, or its latest version disabled or destroyed."""
    try:
        dependencies = runtime.dependencies()
        store = dependencies.store
        secret = _managed_as(dependencies, named, event)
        if secret is None:
            _ignore(event, "not a secret this deployment manages")
            return
        if event.event_type == DELETE:
            _acknowledged_failure(_deleted(secret), secret)
            return
        latest = store.get_version(f"{secret}/versions/latest")
    except RotationError as error:
        _failed(error, named)
        return
    if event.version != latest.number or latest.state == "ENABLED":
        _ignore(event, "not the latest version, or enabled again since")
        return
    _acknowledged_failure(
        RotationError(
            f"{latest.name}, the latest version of {secret}, was "
            f"{latest.state.lower()} (not by this function, which never disables the latest "
            "version): consumers reading 'latest' now get nothing. Enable it again (gcloud "
            "secrets versions enable), or add a version with a working key (python -m rotation "
            "seed)",
            code=ErrorCode.LATEST_VERSION_NOT_ENABLED,
        ),
        secret,
    )


def _managed_as(dependencies: Dependencies, named: str, event: SecretEvent) -> str | None:
    """The managed secret ``named`` denotes, for an event that says it (or its key) is gone.

    A deleted secret's project number can't be looked up any more (NOT_FOUND, or
    PERMISSION_DENIED: its per-secret grant went with it); then a managed secret of the same id
    counts: loud beats quiet. A secret managed by ROTATION_LABEL is no longer listed once
    deleted, but the event's copy of the secret still carries its labels.
    """
    config, store = dependencies.config, dependencies.store
    deleted = secret_names.of(named)
    if deleted is None:
        return None
    label = config.rotation_label
    if label is not None and config.project and event.labels.get(label[0]) == label[1]:
        return str(deleted.in_project(config.project))
    managed = managed_secrets(config, store)
    try:
        return dependencies.configured_as(named, managed)
    except RotationError as error:
        if error.code not in (ErrorCode.NOT_FOUND, ErrorCode.PERMISSION_DENIED):
            raise
    same = [secret for secret in managed if _same_place(secret, deleted)]
    return same[0] if same else None


def _same_place(secret: str, other: secret_names.SecretName) -> bool:
    name = secret_names.of(secret)
    return name is not None and name.same_place(other)


def _deleted(secret: str) -> RotationError:
    return RotationError(
        f"{secret} was deleted, with every version (by hand, or by its own expiration): "
        "consumers can no longer read the key, and this function can no longer refresh it. "
        "Recreate it with a key from the Momento console (deploy.sh --seed-from FILE), or stop "
        "managing it (deploy.sh --secrets)",
        code=ErrorCode.SECRET_DELETED,
    )


def _ignore(event: SecretEvent, why: str) -> None:
    logs.log(
        "DEBUG",
        f"ignored {event.event_type} notification for {event.secret}: {why}",
        event="rotation.event_ignored",
        event_type=event.event_type,
    )


def _versions_since(store: SecretStore, secret: str, published_at: datetime) -> list[VersionInfo]:
    """Enabled versions created after the request was published, newest first."""
    newer = [
        version
        for version in store.list_versions(secret)
        if version.state == "ENABLED" and version.create_time > published_at
    ]
    return sorted(newer, key=lambda version: version.number, reverse=True)


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
