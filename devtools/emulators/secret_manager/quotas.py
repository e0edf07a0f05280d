"""The per-secret and per-version write rate limits of "Secret Manager quotas and limits".

The store applies them to AddSecretVersion/UpdateSecret and Enable/Disable/DestroySecretVersion,
counting real time (``time.monotonic``, injectable), while ``rate_limits`` is on. The
per-project request quotas are not emulated: inject RESOURCE_EXHAUSTED with ``inject_fault``.
Rows of the rule table (its sources and status codes: see the package docstring):

| rule | source | test |
|---|---|---|
| AddSecretVersion and UpdateSecret: at most 2 per second and 120 per minute per secret (global secrets); over it the call is RESOURCE_EXHAUSTED and changes nothing; other secrets are unaffected | "Secret Manager quotas and limits" ("2 requests per second (2 qps) per secret, and 120 requests per minute (120 qpm) per secret"); "Troubleshoot quota errors" ("If you exceeded a quota value using gRPC, Google Cloud returns a ResourceExhausted error") | test_write_rate_limits_apply_per_secret_and_per_version[add-*, update-*, other-secrets-*], test_a_write_over_the_rate_limit_changes_nothing |
| Enable/Disable/DestroySecretVersion: at most 1 per second and 60 per minute per secret version, so a sweep over many versions of one secret is not limited but one version changed twice within a second is | "Secret Manager quotas and limits" ("1 request per second (1 qps) per secret version, and 60 requests per minute (60 qpm) per secret version"); "Troubleshoot quota errors" | test_write_rate_limits_apply_per_secret_and_per_version[one-version-*, a-sweep-*, version-changes-*], test_concurrent_changes_to_one_version_are_counted_one_at_a_time |
| a destroy counts against that per-version limit whether it destroys the version or schedules its destruction; a scheduled destruction coming due is no call and counts nothing | "Secret Manager quotas and limits" (DestroySecretVersion is in that row) | test_write_rate_limits_apply_per_secret_and_per_version[enable-disable-destroy-share-one-budget], test_scheduling_destroys_count_against_the_version_limit |
| reads (GetSecret, ListSecretVersions, AccessSecretVersion, ...), CreateSecret and DeleteSecret have no per-resource rate limit | "Secret Manager quotas and limits" (its per-resource limits name only the calls above; the per-project quotas are not emulated) | test_write_rate_limits_apply_per_secret_and_per_version[reads-are-not-limited] |
| unknown: whether AddSecretVersion and UpdateSecret share one budget, and Enable/Disable/Destroy another; we read each table row as one shared budget | "Secret Manager quotas and limits" (one row per group) | test_write_rate_limits_apply_per_secret_and_per_version[*-share-one-budget] |
| unknown: how the limits are counted; we use sliding 1 s and 60 s windows, under which a steady 2 per second passes and the per-minute limit never binds first | (none) | test_write_rate_limits_apply_per_secret_and_per_version[add-2-per-second-per-secret, a-steady-2-per-second-for-a-minute-passes] |
| unknown: which calls count; every call admitted once its secret or version is found, whatever happens next; not those refused before (arguments checked before the lookup, NOT_FOUND) nor RESOURCE_EXHAUSTED ones | (none) | test_write_rate_limits_apply_per_secret_and_per_version[refused-calls-do-not-count] |
| unknown: the limits are "soft-enforced" ("allows us to continue serving requests beyond their quota as long as our backend systems can handle the load"); we always refuse, the case callers must survive | "Secret Manager quotas and limits" | test_a_write_over_the_rate_limit_changes_nothing |
| rate limits are on by default; `rate_limits=False` (constructor or attribute) turns them off; test hooks are never counted | this brief | test_rate_limits_are_on_by_default_and_can_be_switched_off, test_write_rate_limits_apply_per_secret_and_per_version (seeded by hooks) |
| regional rate limits, by the secret's kind: AddSecretVersion and UpdateSecret at most 80 per second and 4800 per minute per secret; Enable/Disable/DestroySecretVersion at most 50 per second and 3000 per minute per version; a global secret with the same id keeps the global limits | "Secret Manager quotas and limits" ("80 requests per second (80 qps) per secret per region, and 4800 requests per minute (4800 qpm) per secret per region"; "50 requests per second (50 qps) per secret version per region, and 3000 requests per minute (3000 qpm) per secret version per region") | test_regional_secrets_have_their_own_rate_limits |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

import collections
from dataclasses import dataclass

import grpc

from devtools.emulators.secret_manager.errors import EmulatorError


@dataclass(frozen=True)
class RateLimit:
    """At most ``per_second`` calls in any one second and ``per_minute`` in any one minute."""

    per_second: int
    per_minute: int


# "Secret Manager quotas and limits", global secrets. AddSecretVersion and UpdateSecret: "2
# requests per second (2 qps) per secret, and 120 requests per minute (120 qpm) per secret".
# Enable/Disable/DestroySecretVersion: "1 request per second (1 qps) per secret version, and 60
# requests per minute (60 qpm) per secret version".
SECRET_WRITE_LIMIT = RateLimit(per_second=2, per_minute=120)
VERSION_STATE_LIMIT = RateLimit(per_second=1, per_minute=60)
# The same page, regional secrets. AddSecretVersion and UpdateSecret: "80 requests per second (80
# qps) per secret per region, and 4800 requests per minute (4800 qpm) per secret per region".
# Enable/Disable/DestroySecretVersion: "50 requests per second (50 qps) per secret version per
# region, and 3000 requests per minute (3000 qpm) per secret version per region".
REGIONAL_SECRET_WRITE_LIMIT = RateLimit(per_second=80, per_minute=4800)
REGIONAL_VERSION_STATE_LIMIT = RateLimit(per_second=50, per_minute=3000)

# What each write rate limit covers, for RESOURCE_EXHAUSTED messages.
SECRET_WRITES = "AddSecretVersion and UpdateSecret on Secret [{}]"
VERSION_STATE_CHANGES = "Enable/Disable/DestroySecretVersion on Secret Version [{}]"


def admit(calls: collections.deque[float], limit: RateLimit, now: float, what: str) -> None:
    """Count a call at ``now`` (seconds, monotonic) against ``limit``, or refuse it with
    RESOURCE_EXHAUSTED and count nothing. ``calls`` holds the admitted calls of the last minute;
    both windows slide (the quotas page does not say how it counts)."""
    while calls and calls[0] <= now - 60:
        calls.popleft()
    last_second = sum(1 for then in calls if then > now - 1)
    if last_second >= limit.per_second or len(calls) >= limit.per_minute:
        raise EmulatorError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"Quota exceeded for {what}: at most {limit.per_second} requests per second and "
            f"{limit.per_minute} per minute.",
        )
    calls.append(now)
