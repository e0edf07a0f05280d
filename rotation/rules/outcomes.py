"""What one secret's rotation came to, and what that promises the person on call.

Every entry point reports the same :class:`SecretResult`, and the contract of outcomes (README,
"What each outcome means") follows from three of its facts: the ``action``, whether the run
``stored`` a new version, and its ``severity``:

====================================================  =========  =======  ========  =========
outcome                                               action     HTTP     event     severity
====================================================  =========  =======  ========  =========
the key was extended                                  refreshed  200      ack       INFO
not due                                               skipped    200      ack       INFO
housekeeping cut short (a sweep backlog)              as above   200      ack       WARNING
safe now, but not without a person                    as above   200      ack       ERROR
not safe; a person must act                           failed     500      ack       ERROR
transient (unavailable, deadline, quota, INTERNAL)    failed     500      redeliver ERROR
refreshed but not stored                              failed     500      ack       CRITICAL
====================================================  =========  =======  ========  =========

Severity ERROR and up is what deploy.sh's failure alert counts; CRITICAL pages on its own.
Where a run does two things, the worse row wins and the result still names the new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from momento_key_common import redact
from momento_key_common.errors import ErrorCode

# Cloud Logging's severities, least to most severe.
SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")


class Action(StrEnum):
    REFRESHED = "refreshed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Attention:
    """What the operator should hear about a run that did not fail.

    WARNING: housekeeping cut short, which the next run continues. ERROR: the key is safe now
    but will not stay so without a person (no refresh token left, say); retrying can't help, so
    the answer stays 2xx while the alert fires.
    """

    code: ErrorCode
    message: str
    severity: str = "WARNING"

    def worse_than(self, other: Attention | None) -> bool:
        return other is None or SEVERITIES.index(self.severity) > SEVERITIES.index(other.severity)


@dataclass(frozen=True)
class KeptVersion:
    """A version the sweep would have disabled, kept because a version alias names it."""

    version: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class SecretResult:
    """One secret's outcome, as the response and the summary log line report it."""

    secret: str
    action: Action
    reason: str = ""
    version: str | None = None  # the latest version: read, or stored by this run
    valid_until: str | None = None  # when the latest key really expires (its exp)
    seconds_left: int | None = None  # the same, as seconds from the run
    next_run: str | None = None  # when the next run comes, when known (rotation.rules.schedule)
    disabled_versions: tuple[str, ...] = ()
    kept_versions: tuple[KeptVersion, ...] = ()
    destroyed_versions: tuple[str, ...] = ()  # DESTROY_AFTER: destroyed by this run
    # ... or scheduled for destruction (the secret's version_destroy_ttl), now or before
    destroy_scheduled_versions: tuple[str, ...] = ()
    error_code: ErrorCode | None = None
    error_message: str | None = None
    attention: Attention | None = None
    # This run stored a new version (even if it then failed): a redelivery can't improve on it.
    stored: bool = False
    # Skipped only because another run holds the lease: nothing was decided for this key yet.
    # Not part of the JSON; a Pub/Sub delivery is retried on it (see rotation.faces.pubsub).
    busy: bool = False

    @property
    def failed(self) -> bool:
        return self.action is Action.FAILED

    @property
    def severity(self) -> str:
        if self.error_code is ErrorCode.REFRESHED_NOT_STORED:
            return "CRITICAL"
        if self.failed:
            return "ERROR"
        return self.attention.severity if self.attention else "INFO"

    @property
    def redelivery_helps(self) -> bool:
        """Whether the same request may succeed later unchanged: a transient failure before
        anything was stored."""
        code = self.error_code
        return self.failed and code is not None and code.transient and not self.stored

    def to_json(self) -> dict[str, Any]:
        error = None
        if self.error_code is not None:
            error = {
                "code": str(self.error_code),
                "message": redact.scrub(self.error_message or ""),
            }
        attention = None
        if self.attention is not None:
            attention = {
                "code": str(self.attention.code),
                "severity": self.attention.severity,
                "message": redact.scrub(self.attention.message),
            }
        return {
            "secret": self.secret,
            "action": str(self.action),
            "severity": self.severity,
            "reason": redact.scrub(self.reason),
            "version": self.version,
            "valid_until": self.valid_until,
            "seconds_left": self.seconds_left,
            "next_run": self.next_run,
            "disabled_versions": list(self.disabled_versions),
            "kept_versions": [
                {"version": kept.version, "aliases": list(kept.aliases)}
                for kept in self.kept_versions
            ],
            "destroyed_versions": list(self.destroyed_versions),
            "destroy_scheduled_versions": list(self.destroy_scheduled_versions),
            "error": error,
            "attention": attention,
        }
