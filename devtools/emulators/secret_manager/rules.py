r"""Field rules: what CreateSecret, UpdateSecret and AddSecretVersion accept.

Each check raises INVALID_ARGUMENT. RPCs are held to them; the test hooks seed state that
already exists upstream and skip them. Rows of the rule table (its sources and status codes:
see the package docstring):

| rule | source | test |
|---|---|---|
| annotation key: 1-63 chars, begins and ends with [a-zA-Z0-9], only `-` `_` `.` and alphanumerics between (so no `/`); checked on CreateSecret and UpdateSecret | resources.py Secret.annotations | test_annotation_keys_follow_the_documented_pattern |
| annotation key at most 128 bytes of UTF-8 (cannot bite given the ASCII charset and 63 chars; checked anyway) | resources.py Secret.annotations | test_annotation_keys_follow_the_documented_pattern |
| unknown: whether "alphanumerics in between" includes non-ASCII; we read it as [a-zA-Z0-9] like the begin/end rule and refuse | resources.py Secret.annotations | test_annotation_keys_follow_the_documented_pattern[*-non-ascii-between] |
| annotation keys + values total "less than 16KiB": 16383 bytes pass, 16384 fail, counted in UTF-8 bytes (our reading of "size ... KiB") | resources.py Secret.annotations | test_annotations_total_less_than_16_kib |
| label key: 1-63 chars, at most 128 bytes, `[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}` | resources.py Secret.labels | test_label_keys_follow_the_documented_pattern |
| label value: 0-63 chars, at most 128 bytes, `[\p{Ll}\p{Lo}\p{N}_-]{0,63}` | resources.py Secret.labels | test_label_values_follow_the_documented_pattern |
| at most 64 labels | resources.py Secret.labels | test_at_most_64_labels |
| secret_id: required, at most 255 letters, numerals, `-`, `_` | service.py CreateSecretRequest.secret_id | test_secret_ids_are_up_to_255_letters_numerals_hyphens_underscores |
| unknown: whether non-ASCII letters count in secret_id; we accept ASCII only | service.py CreateSecretRequest.secret_id | test_secret_ids_are_up_to_255_letters_numerals_hyphens_underscores |
| payload data at most 64KiB (65536 bytes pass, 65537 fail) | resources.py SecretPayload.data; "Secret Manager quotas and limits" | test_payloads_up_to_64_kib_are_accepted |
| data_crc32c, when sent, is verified and recorded as client_specified_payload_checksum | resources.py SecretPayload.data_crc32c; "Data integrity assurance" | test_wrong_crc32c_is_rejected_and_adds_nothing, test_correct_crc32c_is_accepted_and_recorded |
| unknown: status code of a data_crc32c mismatch; we answer INVALID_ARGUMENT and add nothing | (none) | test_wrong_crc32c_is_rejected_and_adds_nothing |
| unknown: empty payload; we accept it | (none) | test_an_empty_payload_is_accepted |
| Secret.version_destroy_ttl is 0s (no delay) or at least 24h; checked on CreateSecret, and on UpdateSecret when the mask names it; a masked version_destroy_ttl left unset removes it; GetSecret returns it | resources.py Secret.version_destroy_ttl ("For secret with TTL>0, version destruction doesn't happen immediately"); Google's Terraform text for regional secrets, magic-modules RegionalSecret.yaml ("It must be atleast 24h"); python-docs-samples disable_secret_with_delayed_destroy.py (mask `version_destroy_ttl` with the field unset: "Disabled delayed destroy"); AIP-134 | test_version_destroy_ttl_is_0s_or_at_least_24h, test_update_secret_sets_or_removes_the_version_destroy_ttl |
| unknown: the bounds of version_destroy_ttl: the Secret Manager pages I could read give none, the 24h minimum is written for regional secrets only, and no maximum is written anywhere; we apply 24h to both kinds, accept any maximum and fractions of a second, and take 0s as no delay (kept and returned as sent) | (none) | test_version_destroy_ttl_is_0s_or_at_least_24h, test_a_0s_version_destroy_ttl_is_kept_and_destroys_at_once |
| alias name: at most 63 letters, numerals, `-`, `_`, starting with a letter; not latest or new (case-insensitive) | resources.py Secret.version_aliases ('latest', 'NEW'); "Assign an alias to a secret version" (case-insensitive) | test_version_alias_names_follow_the_documented_pattern |
| at most 50 aliases | resources.py Secret.version_aliases; "Secret Manager quotas and limits" | test_at_most_50_version_aliases |
| unknown: alias naming a version that does not exist; we refuse (INVALID_ARGUMENT), so CreateSecret refuses any alias | (none) | test_a_version_alias_must_name_an_existing_version, test_version_aliases_are_refused_on_create_as_no_version_exists |
| unknown: alias naming a DESTROYED version; we allow it | (none) | test_a_version_alias_may_name_a_destroyed_version |
| topics: at most 10, each `projects/*/topics/*` | resources.py Secret.topics, Topic.name; "Set up notifications on a secret" | test_topics_are_up_to_10_names_of_the_form_projects_topics |
| next_rotation_time at least 300s and at most 3153600000s in the future (emulator clock) | resources.py Rotation.next_rotation_time | test_next_rotation_time_is_300s_to_100_years_ahead |
| rotation_period in whole seconds, 3600s to 3153600000s | resources.py Rotation.rotation_period | test_rotation_period_is_whole_seconds_from_1h_to_100_years |
| rotation_period needs next_rotation_time | resources.py Rotation.next_rotation_time, Rotation.rotation_period | test_rotation_period_needs_next_rotation_time |
| topics must be set to configure rotation (checked when rotation is written, against the resulting topics) | resources.py Rotation; "Create rotation schedules" | test_rotation_needs_topics, test_rotation_can_be_set_by_update_when_the_secret_has_topics |
| unknown: removing the topics of a secret that has a rotation; we allow it | (none) | test_topics_can_be_removed_from_a_secret_with_a_rotation |
| expiration (expire_time, or ttl counted from the request on the emulator clock) at least 60 s and at most 100 years away; checked on CreateSecret, and on UpdateSecret when the mask names expire_time or ttl; GetSecret returns the expire_time | "Set an expiration date for a secret" ("A secret's expiration cannot be less than 60 seconds away or more than 100 years away"; "the expiration is always returned as a timestamp, regardless of how it was given") | test_an_expiration_is_60_seconds_to_100_years_away |
| unknown: how long "100 years" is, and whether the bounds are inclusive; we take Rotation's 3153600000 s and accept both bounds | "Set an expiration date for a secret" (gives no count) | test_an_expiration_is_60_seconds_to_100_years_away[*-60s, *-100-years] |
| a regional secret's customer_managed_encryption key must be in the secret's location (CreateSecret, UpdateSecret) | "Add CMEK encryption to regional secrets" ("The location of the CMEK key must be the same as the location of the regional secret.") | test_a_regional_cmek_key_must_be_in_the_secrets_location |
| kms_key_name: required, `projects/*/locations/*/keyRings/*/cryptoKeys/*`; for automatic replication in `global`, for a user-managed replica in the replica's location; checked on CreateSecret, and on UpdateSecret for customer_managed_encryption | resources.py CustomerManagedEncryption.kms_key_name | test_replication_cmek_keys_are_crypto_keys_in_the_data_location, test_customer_managed_encryption_names_a_crypto_key |
| unknown: Secret.customer_managed_encryption is documented for regionalized secrets; on a global secret we check its format only, store it, and encrypt new versions with it too | resources.py Secret.customer_managed_encryption | test_customer_managed_encryption_names_a_crypto_key, test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled[secret] |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import google_crc32c
from google.cloud import secretmanager_v1

from devtools.emulators.secret_manager.errors import invalid

_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
# SecretPayload.data: at most 64KiB ("Secret Manager quotas and limits").
MAX_PAYLOAD_BYTES = 65536

# Secret.annotations: keys 1-63 characters, at most 128 bytes of UTF-8, begin and end with
# [a-z0-9A-Z], only dashes, underscores, dots and alphanumerics between; keys and values
# together less than 16KiB.
ANNOTATION_KEY_MAX_CHARS = 63
ANNOTATION_KEY_MAX_BYTES = 128
ANNOTATIONS_SIZE_LIMIT = 16 * 1024  # the total must be LESS than this
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# Secret.labels: PCRE [\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62} for keys and
# [\p{Ll}\p{Lo}\p{N}_-]{0,63} for values, each at most 128 bytes; at most 64 labels.
LABEL_MAX_CHARS = 63
LABEL_MAX_BYTES = 128
MAX_LABELS = 64
_LABEL_FIRST_CATEGORIES = frozenset({"Ll", "Lo"})
_LABEL_CATEGORIES = frozenset({"Ll", "Lo", "Nd", "Nl", "No"})  # \p{N} is Nd, Nl and No
# Secret.version_aliases: up to 63 letters, numerals, '-' and '_', starting with a letter; not
# 'latest' or 'NEW' (the "assign an alias" page: Latest or New, case-insensitive); at most 50.
MAX_VERSION_ALIASES = 50
_VERSION_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
_RESERVED_ALIASES = frozenset({"latest", "new"})
# Secret.topics: up to 10, each projects/*/topics/*.
MAX_TOPICS = 10
_TOPIC_NAME = re.compile(r"projects/[^/]+/topics/[^/]+")
# Rotation: next_rotation_time 300 s to 3153600000 s ahead; rotation_period whole seconds,
# 3600 s to 3153600000 s.
MIN_ROTATION_LEAD = timedelta(seconds=300)
MAX_ROTATION_SECONDS = 3153600000
MIN_ROTATION_PERIOD_SECONDS = 3600
# Expiration ("Set an expiration date for a secret"): "cannot be less than 60 seconds away or more
# than 100 years away". 100 years as Rotation counts them (3153600000 s); the page gives no count.
MIN_EXPIRATION_LEAD = timedelta(seconds=60)
MAX_EXPIRATION_LEAD = timedelta(seconds=MAX_ROTATION_SECONDS)
# Secret.version_destroy_ttl: "For secret with TTL>0, version destruction doesn't happen
# immediately" (resources.py), so 0 means no delay. Google's Terraform text for the field
# (magic-modules RegionalSecret.yaml) adds "It must be atleast 24h"; no maximum is documented.
MIN_VERSION_DESTROY_TTL = timedelta(hours=24)
# CustomerManagedEncryption.kms_key_name: projects/*/locations/*/keyRings/*/cryptoKeys/*; in
# ``global`` for automatic replication, in the replica's location for user-managed replication.
KMS_KEY_NAME = re.compile(r"projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+")


def check_secret_id(secret_id: str) -> None:
    if not _SECRET_ID.fullmatch(secret_id):
        raise invalid(f"Secret id {secret_id!r} must be 1-255 letters, numerals, '-' or '_'.")


def check_payload(payload: Any) -> tuple[bytes, bool]:
    """An AddSecretVersion payload's data, and whether it came with a data_crc32c, which must
    then be the CRC32C of the data."""
    data = bytes(payload.data)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise invalid(f"Secret payload is {len(data)} bytes; the limit is 64 KiB.")
    checksum = "data_crc32c" in payload
    if checksum and payload.data_crc32c != google_crc32c.value(data):
        raise invalid("Checksum mismatch. Data corrupted in transit or request is invalid.")
    return data, checksum


def check_annotations(annotations: Mapping[str, str]) -> None:
    total = 0
    for key, value in annotations.items():
        if (
            not 1 <= len(key) <= ANNOTATION_KEY_MAX_CHARS
            or len(key.encode()) > ANNOTATION_KEY_MAX_BYTES
            or not _ANNOTATION_KEY.fullmatch(key)
        ):
            raise invalid(
                f"Annotation key {key!r} is invalid: keys are 1-63 characters (at most 128 "
                "bytes of UTF-8), begin and end with [a-zA-Z0-9], and have only alphanumerics, "
                "'-', '_' and '.' in between."
            )
        total += len(key.encode()) + len(value.encode())
    if total >= ANNOTATIONS_SIZE_LIMIT:
        raise invalid(
            f"Annotation keys and values total {total} bytes; they must be less than 16KiB."
        )


def _label_text_ok(text: str, *, key: bool) -> bool:
    if len(text) > LABEL_MAX_CHARS or len(text.encode()) > LABEL_MAX_BYTES:
        return False
    if key and (not text or unicodedata.category(text[0]) not in _LABEL_FIRST_CATEGORIES):
        return False
    return all(char in "_-" or unicodedata.category(char) in _LABEL_CATEGORIES for char in text)


def check_labels(labels: Mapping[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        raise invalid(f"{len(labels)} labels; no more than {MAX_LABELS} can be assigned.")
    for key, value in labels.items():
        if not _label_text_ok(key, key=True):
            raise invalid(
                f"Label key {key!r} is invalid: 1-63 characters (at most 128 bytes), matching "
                r"[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}."
            )
        if not _label_text_ok(value, key=False):
            raise invalid(
                f"Label value {value!r} of {key!r} is invalid: 0-63 characters (at most 128 "
                r"bytes), matching [\p{Ll}\p{Lo}\p{N}_-]{0,63}."
            )


def check_version_aliases(aliases: Mapping[str, int], versions: Collection[int]) -> None:
    """``versions``: the numbers of the secret's versions, which every alias must name."""
    if len(aliases) > MAX_VERSION_ALIASES:
        raise invalid(
            f"{len(aliases)} version aliases; no more than {MAX_VERSION_ALIASES} can be assigned."
        )
    for alias, number in aliases.items():
        if not _VERSION_ALIAS.fullmatch(alias) or alias.lower() in _RESERVED_ALIASES:
            raise invalid(
                f"Version alias {alias!r} is invalid: up to 63 letters, numerals, '-' and '_', "
                "starting with a letter, and not 'latest' or 'new'."
            )
        if number not in versions:
            raise invalid(f"Version alias {alias!r} names version {number}, which does not exist.")


def check_topics(topics: Sequence[Any]) -> None:
    if len(topics) > MAX_TOPICS:
        raise invalid(f"{len(topics)} topics; a secret can have up to {MAX_TOPICS}.")
    for topic in topics:
        if not _TOPIC_NAME.fullmatch(topic.name):
            raise invalid(f"Topic {topic.name!r} must be in the format projects/*/topics/*.")


def check_rotation(rotation: Any, *, has_topics: bool, now: datetime) -> None:
    pb = secretmanager_v1.Rotation.pb(rotation)
    has_time, has_period = pb.HasField("next_rotation_time"), pb.HasField("rotation_period")
    if has_period and not has_time:
        raise invalid("rotation.next_rotation_time must be set if rotation_period is set.")
    if has_time:
        if not has_topics:
            raise invalid("Secret.topics must be set to configure rotation.")
        lead = pb.next_rotation_time.ToDatetime(tzinfo=UTC) - now
        if lead < MIN_ROTATION_LEAD or lead > timedelta(seconds=MAX_ROTATION_SECONDS):
            raise invalid(
                "rotation.next_rotation_time must be at least 300s and at most 3153600000s "
                "in the future."
            )
    if has_period:
        period = pb.rotation_period
        if (
            period.nanos != 0
            or not MIN_ROTATION_PERIOD_SECONDS <= period.seconds <= MAX_ROTATION_SECONDS
        ):
            raise invalid(
                "rotation.rotation_period must be in whole seconds, at least 3600s and at most "
                "3153600000s."
            )


def check_expiration(secret: Any, *, now: datetime) -> None:
    """The ``expiration`` a Secret asks for (expire_time, or ttl from ``now``) must be 60 s to
    100 years away ("Set an expiration date for a secret")."""
    pb = secretmanager_v1.Secret.pb(secret)
    which = pb.WhichOneof("expiration")
    if which is None:
        return
    lead = pb.ttl.ToTimedelta() if which == "ttl" else pb.expire_time.ToDatetime(tzinfo=UTC) - now
    if not MIN_EXPIRATION_LEAD <= lead <= MAX_EXPIRATION_LEAD:
        raise invalid(
            f"Secret.{which}: a secret's expiration cannot be less than 60 seconds away or more "
            "than 100 years away."
        )


def check_version_destroy_ttl(secret: Any) -> None:
    """Secret.version_destroy_ttl, when sent: 0 (no delay) or at least 24 hours."""
    pb = secretmanager_v1.Secret.pb(secret)
    if not pb.HasField("version_destroy_ttl"):
        return
    ttl = pb.version_destroy_ttl.ToTimedelta()
    if ttl != timedelta(0) and ttl < MIN_VERSION_DESTROY_TTL:
        raise invalid(
            f"Secret.version_destroy_ttl is {ttl.total_seconds():g}s; it must be 0s (no delay) "
            "or at least 24h (86400s)."
        )


def version_destroy_ttl(secret: Any) -> timedelta | None:
    """The delay a DestroySecretVersion of ``secret`` waits out, or None: destroy at once."""
    pb = secretmanager_v1.Secret.pb(secret)
    if not pb.HasField("version_destroy_ttl"):
        return None
    ttl = pb.version_destroy_ttl.ToTimedelta()
    return ttl if ttl > timedelta(0) else None


def check_masked_fields(sent: Any, updates: Collection[str]) -> None:
    """UpdateSecret: the rules on the fields the mask names that need no stored state."""
    if "annotations" in updates:
        check_annotations(sent.annotations)
    if "labels" in updates:
        check_labels(sent.labels)
    if "topics" in updates:
        check_topics(sent.topics)
    if "version_destroy_ttl" in updates:
        check_version_destroy_ttl(sent)


def _cmek_configs(
    secret: Any, *, secret_location: str | None = None
) -> Iterator[tuple[Any, str | None]]:
    """Each CustomerManagedEncryption in a Secret, with the location its key must be in. The
    top-level field (meant for regionalized secrets) must be in a regional secret's location
    ``secret_location``; on a global secret (``None``) its location is not documented."""
    pb = secretmanager_v1.Secret.pb(secret)
    if pb.HasField("customer_managed_encryption"):
        yield pb.customer_managed_encryption, secret_location
    replication = pb.replication
    if replication.automatic.HasField("customer_managed_encryption"):
        yield replication.automatic.customer_managed_encryption, "global"
    for replica in replication.user_managed.replicas:
        if replica.HasField("customer_managed_encryption"):
            yield replica.customer_managed_encryption, replica.location


def check_cmek(secret: Any, *, secret_location: str | None) -> None:
    for config, location in _cmek_configs(secret, secret_location=secret_location):
        check_kms_key_name(config.kms_key_name, location=location)


def check_kms_key_name(name: str, *, location: str | None) -> None:
    """CustomerManagedEncryption.kms_key_name: required, a CryptoKey name, in ``location``."""
    match = KMS_KEY_NAME.fullmatch(name)
    if match is None:
        raise invalid(
            f"kms_key_name {name!r} must be in the format "
            "projects/*/locations/*/keyRings/*/cryptoKeys/*."
        )
    if location is not None and match.group(1) != location:
        raise invalid(
            f"kms_key_name {name!r} must reside in {location!r}, the location of the data it "
            "encrypts."
        )


def kms_keys(secret: Any) -> frozenset[str]:
    """The CMEK keys a version added now to ``secret`` is encrypted with."""
    return frozenset(config.kms_key_name for config, _ in _cmek_configs(secret))
