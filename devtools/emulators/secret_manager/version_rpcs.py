"""SecretManagerService methods on versions: AddSecretVersion, GetSecretVersion,
AccessSecretVersion, ListSecretVersions and Enable/Disable/DestroySecretVersion, each a function
of the store and the request.

ListSecretVersions filters (filters.py) support ``state:ENABLED|DISABLED|DESTROYED`` (also
``=``/``!=``) and ``create_time <|<=|>|>=|=|!= RFC3339`` (with a time zone, optionally quoted).
Rows of the rule table (its sources and status codes: see the package docstring):

| rule | source | test |
|---|---|---|
| DESTROYED is final | resources.py SecretVersion.State.DESTROYED | test_destroyed_versions_cannot_change_state |
| unknown: status code for that, and destroying again; we answer FAILED_PRECONDITION | (none) | test_destroyed_versions_cannot_change_state |
| accessing a version that is not ENABLED is FAILED_PRECONDITION, with the message "Secret Version [NAME] is in STATE state." (a version scheduled for destruction is DISABLED) | resources.py SecretVersion.State; code as observed (PLATFORM.md, [ran]); a DESTROYED version's answer as observed in google-github-actions/get-secretmanager-secrets#268 (400 FAILED_PRECONDITION "Secret Version [.../versions/4] is in DESTROYED state.") | test_accessing_a_version_that_is_not_enabled_is_failed_precondition |
| DestroySecretVersion without delayed destruction: the version is DESTROYED at once, its payload gone (hook `payload` answers None) and `destroy_time` set to the emulator clock's now; only a DESTROYED version carries `destroy_time` | resources.py SecretVersion.State.DESTROYED ("the secret data is no longer stored"), SecretVersion.destroy_time ("Only present if state is DESTROYED"); the client's destroy_secret_version ("irrevocably destroys the secret data") | test_destroy_clears_the_payload_and_sets_destroy_time |
| with version_destroy_ttl above 0, DestroySecretVersion disables the version (an ENABLED one too), keeps its payload, sets `scheduled_destroy_time` to now + ttl (emulator clock) and no `destroy_time`, and answers the version in that state; GetSecretVersion and ListSecretVersions return `scheduled_destroy_time`; global and regional secrets alike | resources.py Secret.version_destroy_ttl ("the version goes to a disabled state and destruction happens after the TTL expires"), SecretVersion.scheduled_destroy_time; "Delay destruction of secret versions" ("The version is disabled, preventing its use"; "The system schedules the version for permanent destruction at the end of the delay period"); "Delay destruction of regional secret versions" | test_with_a_version_destroy_ttl_destroy_schedules_the_version |
| enabling or disabling a version scheduled for destruction cancels the schedule (`scheduled_destroy_time` cleared, payload kept) | "Delay destruction of secret versions" ("cancel the scheduled destruction and restore the secret version by either enabling or disabling the secret version") | test_enabling_or_disabling_a_scheduled_version_cancels_the_schedule |
| unknown: DestroySecretVersion of a version already scheduled; we keep its schedule (neither sooner nor later, whatever the secret's ttl is now), change nothing but its etag, and answer it | (none) | test_destroying_a_scheduled_version_again_keeps_its_schedule |
| unknown: whether changing or removing the secret's version_destroy_ttl touches versions already scheduled ("Delay destruction of secret versions" covers updating and removing the duration, but not in the parts I could read); we leave their schedules as they are, and a later destroy uses the ttl of that moment | (none) | test_changing_the_version_destroy_ttl_leaves_scheduled_versions_alone |
| a ListSecretVersions state filter sees a scheduled version as DISABLED (DESTROYED once its time has passed), so `NOT state:DESTROYED`, `state!=DESTROYED` and `state:ENABLED OR state:DISABLED` list every version but the destroyed ones in one call, scheduled ones with their `scheduled_destroy_time` | resources.py SecretVersion.scheduled_destroy_time; "Delay destruction of secret versions" (a scheduled version is disabled); AIP-160 (NOT, OR) | test_listing_every_version_but_the_destroyed_ones_shows_scheduled_ones |
| Enable/Disable/DestroySecretVersion do not take an alias | resources.py Secret.version_aliases ("only ... GetSecretVersion and AccessSecretVersion") | test_state_changes_take_version_numbers_only |
| unknown: the status code for that, and whether they take `latest`; we refuse both with INVALID_ARGUMENT | (none) | test_state_changes_take_version_numbers_only |
| a CMEK key made unusable (disabled or destroyed; hook `set_kms_key_enabled`) fails AccessSecretVersion of every version it encrypted, with a message naming the key; GetSecretVersion and ListSecretVersions still show the version ENABLED | "Enable customer-managed encryption keys (CMEK) for Secret Manager" ("If you temporarily disable or permanently destroy the CMEK key, the data encrypted with that key cannot be decrypted and therefore is unaccessible") | test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled |
| unknown: the status code of that; we answer FAILED_PRECONDITION (google.rpc.Code: "the system is not in a state required for the operation's execution"), after the version-state check | (none) | test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled |
| unknown: a version whose replicas use several keys; access fails while any of them is unusable | (none) | test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled[one-of-two-replicas] |
| making the key usable again restores access | "Enable and disable key versions" (Cloud KMS: "During the time that a key is disabled, data that was encrypted with the key can't be accessed. To access the data, you can re-enable the key version.") | test_enabling_the_cmek_key_again_restores_access |
| a change of CMEK key applies only to versions added afterwards | resources.py Secret.customer_managed_encryption and Replication.*.customer_managed_encryption ("They do not apply retroactively to existing SecretVersions") | test_a_cmek_change_applies_only_to_versions_added_afterwards |
| unknown: AddSecretVersion while the secret's CMEK key is unusable; we accept it (the docs speak only of decrypting) | (none) | test_versions_can_be_added_under_an_unusable_cmek_key |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import google_crc32c
from google.cloud import secretmanager_v1

from devtools.emulators.secret_manager import paging, quotas, rules
from devtools.emulators.secret_manager.errors import precondition
from devtools.emulators.secret_manager.filters import (
    FilterError,
    Restriction,
    predicate,
    time_restriction,
)
from devtools.emulators.secret_manager.store import STATES, SecretStore, State, Version


def _version_sort_key(version: Version) -> tuple[int, int]:
    """Sort key for ListSecretVersions: "sorted in reverse by create_time (newest first)"."""
    return paging.micros(version.create_time), version.number


def _version_restriction(restriction: Restriction) -> Callable[[Version], bool]:
    if restriction.field == "state":
        if restriction.op not in (":", "=", "!="):
            raise FilterError(f"operator {restriction.op!r} is not supported for state")
        if restriction.value not in STATES:
            raise FilterError(f"state must be one of {', '.join(STATES)}")
        wanted, negate = restriction.value, restriction.op == "!="
        return lambda version: (version.state == wanted) != negate
    if restriction.field == "create_time":
        return time_restriction(restriction, lambda version: version.create_time)
    raise FilterError(f"the emulator cannot filter versions on {restriction.field!r}")


def add_secret_version(store: SecretStore, request: Any) -> Any:
    data, checksum = rules.check_payload(request.payload)
    with store.lock:
        record = store.secret(request.parent)
        store.limit_secret_write(record)
        version = store.insert_version(record, data)
        version.client_checksum = checksum
        return store.version_message(record, version)


def get_secret_version(store: SecretStore, request: Any) -> Any:
    with store.lock:
        return store.version_message(*store.versioned(request.name))


def access_secret_version(store: SecretStore, request: Any) -> Any:
    with store.lock:
        record, version = store.versioned(request.name)
        name = store.version_name(record, version)
        if version.state != "ENABLED" or version.data is None:
            raise precondition(f"Secret Version [{name}] is in {version.state} state.")
        unusable = sorted(version.kms_keys & store.unusable_kms_keys)
        if unusable:
            # Documented: data encrypted with a disabled or destroyed CMEK key "cannot be
            # decrypted and therefore is unaccessible". The status code is not documented.
            raise precondition(
                f"Secret Version [{name}] cannot be decrypted: its CMEK key [{unusable[0]}] "
                "is disabled or destroyed."
            )
        data = version.data
    return secretmanager_v1.AccessSecretVersionResponse(
        name=name,
        payload=secretmanager_v1.SecretPayload(data=data, data_crc32c=google_crc32c.value(data)),
    )


def list_secret_versions(store: SecretStore, request: Any) -> Any:
    matches = predicate(request.filter, _version_restriction)
    size = paging.page_size(request.page_size)
    after = paging.decode_token("versions", request.page_token)
    with store.lock:
        record = store.secret(request.parent)
        page, token = paging.newest_first_page(
            (v for v in record.versions.values() if matches(v)),
            _version_sort_key,
            after=after,
            page_size=size,
            kind="versions",
        )
        return secretmanager_v1.ListSecretVersionsResponse(
            versions=[store.version_message(record, v) for v in page],
            next_page_token=token,
            total_size=0 if request.filter else len(record.versions),
        )


def change_state(store: SecretStore, request: Any, state: State) -> Any:
    """Enable/Disable/DestroySecretVersion, which ask for ``state``; a destroy under the
    secret's version_destroy_ttl schedules the destruction instead."""
    with store.lock:
        record, version = store.versioned(request.name, aliases=False)
        name = store.version_name(record, version)
        regional = record.key.location is not None
        store.limit(
            version.state_changes,
            quotas.REGIONAL_VERSION_STATE_LIMIT if regional else quotas.VERSION_STATE_LIMIT,
            quotas.VERSION_STATE_CHANGES.format(name),
        )
        store.check_etag(request.etag, version.etag, f"Secret Version [{name}]")
        if version.state == "DESTROYED":
            raise precondition(f"Secret Version [{name}] is in DESTROYED state.")
        ttl = rules.version_destroy_ttl(record.meta)
        if state == "DESTROYED" and (ttl or version.scheduled_destroy_time is not None):
            store.schedule_destroy(version, ttl)
        else:
            store.set_state(version, state)
        return store.version_message(record, version)
