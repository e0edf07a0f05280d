"""SecretManagerService methods on secrets: CreateSecret, GetSecret, UpdateSecret, DeleteSecret
and ListSecrets, each a function of the store and the request.

ListSecrets filters (filters.py) support ``name:substring``, ``labels.KEY:VALUE``,
``labels.KEY:*`` and ``create_time <|<=|>|>=|=|!= RFC3339``. Rows of the rule table (its
sources and status codes: see the package docstring):

| rule | source | test |
|---|---|---|
| unknown: whether fields outside update_mask are re-checked; we check only what the request writes | (none) | test_fields_outside_the_mask_are_not_rechecked |
| update_mask is required | service.py UpdateSecretRequest.update_mask | test_update_mask_is_required |
| updatable paths: labels, topics, expire_time, ttl, rotation, version_aliases, annotations, version_destroy_ttl, customer_managed_encryption | resources.proto field_behavior (neither OUTPUT_ONLY nor IMMUTABLE); Secret.version_aliases ("modifiable via UpdateSecret") | test_every_mutable_field_can_be_updated |
| output only paths (name, create_time, policy_member) in the mask are ignored | AIP-161, AIP-203 (OUTPUT_ONLY) | test_output_only_paths_in_the_mask_are_ignored |
| immutable paths (replication, tags, secret_type): an unchanged value is ignored, a change is INVALID_ARGUMENT | resources.proto IMMUTABLE; AIP-203 | test_immutable_replication_cannot_change |
| unknown: paths naming no field, map entries, subfields, `*`, `etag`; we refuse all with INVALID_ARGUMENT | AIP-161 ("should" refuse paths to values that cannot exist; entries and wildcards are "may") | test_update_mask_paths_that_name_no_updatable_field_are_invalid |
| UpdateSecret changes or removes the expiration: the masked member the request sets replaces it, a masked member left unset removes it | "Set an expiration date for a secret" ("An expiration can be added, updated, or removed from a secret at any time"); AIP-134 (a masked field left unset is cleared) | test_update_secret_changes_or_removes_the_expiration |
| unknown: a mask naming expire_time while the request sets ttl (or the reverse); we ignore the unmasked member, so the expiration is removed | AIP-134 (fields outside the mask are ignored) | test_update_secret_changes_or_removes_the_expiration[unmasked-member] |
| ListSecrets is per location: parent `projects/P/locations/L` lists that location's secrets only (total_size too) | "List regional secrets and view secret details" (`gcloud secrets list --location=LOCATION`); service.py ListSecretsRequest.parent | test_list_secrets_is_per_location |
| unknown: whether parent `projects/P` also lists regional secrets; we list the global ones only (the global endpoint refuses regional names: googleapis/google-cloud-python#13389) | (none) | test_list_secrets_is_per_location |
| a regional secret has no replication: CreateSecret of one with `replication` set is INVALID_ARGUMENT; it is returned without replication (and, as immutable, UpdateSecret cannot add one) | "REST Resource: projects.locations.secrets" (its JSON representation has no replication field) | test_regional_secrets_have_no_replication |
| unknown: whether upstream refuses or ignores a replication sent for a regional secret, and whether its versions report a replication_status; we refuse (INVALID_ARGUMENT) and report none | (none) | test_regional_secrets_have_no_replication |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from google.cloud import secretmanager_v1
from google.protobuf import empty_pb2, field_mask_pb2

from devtools.emulators.secret_manager import paging, rules
from devtools.emulators.secret_manager.errors import invalid
from devtools.emulators.secret_manager.filters import (
    FilterError,
    Restriction,
    predicate,
    time_restriction,
)
from devtools.emulators.secret_manager.names import Key
from devtools.emulators.secret_manager.store import SecretRecord, SecretStore

# UpdateSecret update_mask paths, by the field's documented behaviour (google.api.field_behavior
# in resources.proto). Updatable: every field that is neither output only nor immutable.
_UPDATABLE_SECRET_FIELDS = frozenset(
    {
        "labels",
        "topics",
        "expire_time",
        "ttl",
        "rotation",
        "version_aliases",
        "annotations",
        "version_destroy_ttl",
        "customer_managed_encryption",
    }
)
_EXPIRATION_FIELDS = frozenset({"expire_time", "ttl"})  # the oneof ``expiration``
# AIP-161/AIP-203: output only paths in an update mask are ignored.
_OUTPUT_ONLY_SECRET_FIELDS = frozenset({"name", "create_time", "policy_member"})
# AIP-203: an immutable field in the mask is ignored if unchanged, INVALID_ARGUMENT if changed.
_IMMUTABLE_SECRET_FIELDS = frozenset({"replication", "tags", "secret_type"})


def _secret_sort_key(record: SecretRecord) -> tuple[int, int]:
    """Sort key for ListSecrets: "sorted in reverse by create_time (newest first)"."""
    return paging.micros(record.meta.create_time), record.sequence


def _secret_restriction(restriction: Restriction) -> Callable[[SecretRecord], bool]:
    field_name, op, value = restriction.field, restriction.op, restriction.value
    if field_name == "name" and op == ":":
        return lambda record: value in record.meta.name
    if field_name.startswith("labels.") and op in (":", "="):
        key = field_name.removeprefix("labels.")
        if op == ":" and value == "*":
            return lambda record: key in record.meta.labels
        return lambda record: record.meta.labels.get(key) == value
    if field_name == "create_time":
        return time_restriction(restriction, lambda record: record.meta.create_time)
    raise FilterError(f"the emulator cannot filter secrets on {field_name!r} with {op!r}")


def _write_expiration(updated: Any, sent: Any, paths: Sequence[str], *, now: datetime) -> None:
    """UpdateSecret of the ``expiration`` oneof: the member the request sets, if the mask names
    it, replaces any expiration (checked; a ttl counts from ``now``); otherwise the masked
    member is unset, which removes the expiration (AIP-134: a masked field left unset is
    cleared; "An expiration can be added, updated, or removed from a secret at any time")."""
    pb = secretmanager_v1.Secret.pb(updated)
    pb.ClearField("expire_time")
    pb.ClearField("ttl")
    chosen = secretmanager_v1.Secret.pb(sent).WhichOneof("expiration")
    if chosen not in paths:
        return
    rules.check_expiration(sent, now=now)
    updated.expire_time = now + sent.ttl if chosen == "ttl" else sent.expire_time


def _field_value(secret: Any, name: str) -> Any:
    """A comparable copy of one field of a Secret (maps become dicts)."""
    value = getattr(secretmanager_v1.Secret.pb(secret), name)
    return dict(value) if name == "tags" else value


def create_secret(store: SecretStore, request: Any) -> Any:
    project, location = store.names.parent(request.parent)
    rules.check_secret_id(request.secret_id)
    secret = request.secret
    if location is not None and "replication" in secret:
        # "REST Resource: projects.locations.secrets": a regional Secret has no replication.
        raise invalid(
            f"Secret.replication cannot be set on a regional secret: its data stays in "
            f"{location!r}, the location of its parent {request.parent!r}."
        )
    rules.check_annotations(secret.annotations)
    rules.check_labels(secret.labels)
    rules.check_topics(secret.topics)
    rules.check_cmek(secret, secret_location=location)
    rules.check_version_destroy_ttl(secret)
    with store.lock:
        # A new secret has no versions, so any alias names a missing version.
        rules.check_version_aliases(secret.version_aliases, {})
        now = store.now()
        if "rotation" in secret:
            rules.check_rotation(secret.rotation, has_topics=bool(secret.topics), now=now)
        rules.check_expiration(secret, now=now)
        key = Key(project, location, request.secret_id)
        return store.secret_message(store.insert_secret(key, secret))


def get_secret(store: SecretStore, request: Any) -> Any:
    with store.lock:
        return store.secret_message(store.secret(request.name))


def update_secret(store: SecretStore, request: Any) -> Any:
    paths = list(request.update_mask.paths)
    if not paths:
        raise invalid("update_mask is required.")
    known = _UPDATABLE_SECRET_FIELDS | _OUTPUT_ONLY_SECRET_FIELDS | _IMMUTABLE_SECRET_FIELDS
    refused = [p for p in paths if p not in known]
    if refused:
        raise invalid(f"update_mask paths {refused} name no updatable field of Secret.")
    updates = [p for p in paths if p in _UPDATABLE_SECRET_FIELDS]
    # expire_time and ttl are one oneof, written below as a whole; the mask merges the rest.
    expiration = [p for p in updates if p in _EXPIRATION_FIELDS]
    merged = [p for p in updates if p not in _EXPIRATION_FIELDS]
    sent = request.secret
    rules.check_masked_fields(sent, updates)
    key = store.names.secret_key(sent.name)
    if "customer_managed_encryption" in updates and "customer_managed_encryption" in sent:
        rules.check_kms_key_name(
            sent.customer_managed_encryption.kms_key_name, location=key.location
        )
    with store.lock:
        record = store.record(key)
        store.limit_secret_write(record)
        store.check_etag(sent.etag, record.meta.etag, f"Secret [{record.meta.name}]")
        for immutable in (p for p in paths if p in _IMMUTABLE_SECRET_FIELDS):
            if _field_value(sent, immutable) != _field_value(record.meta, immutable):
                raise invalid(f"Secret.{immutable} is immutable; it cannot be changed.")
        updated = secretmanager_v1.Secret()
        secretmanager_v1.Secret.copy_from(updated, record.meta)
        field_mask_pb2.FieldMask(paths=merged).MergeMessage(
            secretmanager_v1.Secret.pb(sent),
            secretmanager_v1.Secret.pb(updated),
            replace_message_field=True,
            replace_repeated_field=True,
        )
        now = store.now()
        if "version_aliases" in updates:
            rules.check_version_aliases(updated.version_aliases, record.versions)
        if "rotation" in updates:
            rules.check_rotation(updated.rotation, has_topics=bool(updated.topics), now=now)
        if "rotation" in updated:
            secretmanager_v1.Secret.pb(updated).rotation.ClearField("managed_rotation_status")
        if expiration:
            _write_expiration(updated, sent, expiration, now=now)
        updated.etag = store.new_etag()  # also for an update that changes nothing
        record.meta = updated
        return store.secret_message(record)


def delete_secret(store: SecretStore, request: Any) -> Any:
    with store.lock:
        record = store.secret(request.name)
        store.check_etag(request.etag, record.meta.etag, f"Secret [{record.meta.name}]")
        del store.secrets[record.key]
    return empty_pb2.Empty()


def list_secrets(store: SecretStore, request: Any) -> Any:
    project, location = store.names.parent(request.parent)
    matches = predicate(request.filter, _secret_restriction)
    size = paging.page_size(request.page_size)
    after = paging.decode_token("secrets", request.page_token)
    with store.lock:
        store.drop_expired()
        # Per location: projects/P lists the global secrets, projects/P/locations/L those
        # of L only.
        where = (project, location)
        records = [r for k, r in store.secrets.items() if (k.project, k.location) == where]
        page, token = paging.newest_first_page(
            (r for r in records if matches(r)),
            _secret_sort_key,
            after=after,
            page_size=size,
            kind="secrets",
        )
        return secretmanager_v1.ListSecretsResponse(
            secrets=[store.secret_message(r) for r in page],
            next_page_token=token,
            total_size=0 if request.filter else len(records),
        )
