"""The field checks more than one API shares: Google's refusal shape, typed field readers, IAM
policy bindings, labels and protobuf durations.

Each check enforces one documented rule and answers 400 INVALID_ARGUMENT with a BadRequest field
violation, as Google's APIs do. Nothing is stored when a check fails: handlers validate the
whole resulting resource before keeping it. The sources are named as in the package docstring.

| rule | source | test |
|---|---|---|
| IAM policy members: allUsers, allAuthenticatedUsers, user:/serviceAccount:/group:EMAIL, domain:, deleted:, principal://, principalSet:// | google/iam/v1/policy.proto Binding.members (principal:// and principalSet:// from IAM "Principal identifiers", accepted so as not to be stricter than Google) | test_policy_members_allowed, test_policy_members_refused |
| IAM policy roles: roles/ID, projects/P/roles/ID, organizations/O/roles/ID | policy.proto Binding.role; IAM "Roles and permissions" (role names) | test_policy_roles_have_a_role_name_form |
| function labels: at most 64; keys 1-63 and values 0-63 of lowercase letters (international allowed), digits, ``_``, ``-``; keys start with a lowercase letter | Resource Manager "Creating and managing labels" (Requirements for labels), required by Cloud Run "Configure labels for services" ("Only valid Google Cloud labels"); same regexes as resources.proto Secret.labels | test_function_labels_allowed, test_function_labels_refused; test_fingerprint_label_fits_googles_label_rules (deploy.sh's 40-hex fingerprint) |
| refusals: 400, INVALID_ARGUMENT, BadRequest field violation | google/rpc/error_details.proto BadRequest; AIP-193 | test_refusals_have_googles_error_shape |
| unknown: whether a binding may name a custom role or a service account that does not exist (or is deleted); not checked | | |
| unknown: whether labels also have a byte limit (some APIs document 128 bytes); not checked | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .common import ApiError


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, message, "INVALID_ARGUMENT", field=field)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise invalid(field, f"Invalid value at '{field}': expected a string")
    return value


def integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(field, f"Invalid value at '{field}': expected an integer")
    try:
        return int(value)
    except ValueError:
        raise invalid(field, f"Invalid value at '{field}' ({value!r}): not an integer") from None


# google/protobuf/duration.proto, JSON mapping: seconds with up to 9 fractional digits and "s".
_DURATION = re.compile(r"(-?[0-9]+(?:\.[0-9]{1,9})?)s")
MAX_DURATION_S = 315_576_000_000


def duration(value: Any, field: str) -> float:
    match = _DURATION.fullmatch(string(value, field))
    if match is None or abs(float(match.group(1))) > MAX_DURATION_S:
        raise invalid(field, f"Invalid value at '{field}' ({value!r}): not a Duration")
    return float(match.group(1))


# IAM policies: policy.proto Binding.members and Binding.role; "Roles and permissions" (names).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MEMBER_EMAIL_KINDS = ("user:", "serviceAccount:", "group:")
_MEMBER_OTHER_KINDS = ("domain:", "deleted:", "principal://", "principalSet://")
_ROLE_NAME = re.compile(
    r"roles/[A-Za-z0-9_.]+|(projects/[^/\s]+|organizations/[0-9]+)/roles/[A-Za-z0-9_.]+"
)


def check_policy(policy: Any) -> None:
    if not isinstance(policy, dict):
        raise invalid("policy", "policy must be an object")
    bindings = policy.get("bindings", [])
    if not isinstance(bindings, list):
        raise invalid("policy.bindings", "bindings must be a list")
    for i, binding in enumerate(bindings):
        if not isinstance(binding, dict):
            raise invalid(f"policy.bindings[{i}]", "a binding must be an object")
        role = string(binding.get("role"), f"policy.bindings[{i}].role")
        if not _ROLE_NAME.fullmatch(role):
            raise invalid(
                f"policy.bindings[{i}].role",
                f"Role {role!r} is not a role name: use roles/ID, projects/PROJECT/roles/ID "
                "or organizations/ORGANIZATION/roles/ID",
            )
        members = binding.get("members", [])
        if not isinstance(members, list):
            raise invalid(f"policy.bindings[{i}].members", "members must be a list")
        for j, member in enumerate(members):
            _check_member(string(member, f"policy.bindings[{i}].members[{j}]"), i, j)


def _check_member(member: str, i: int, j: int) -> None:
    if member in {"allUsers", "allAuthenticatedUsers"}:
        return
    for kind in _MEMBER_EMAIL_KINDS:
        if member.startswith(kind) and _EMAIL.fullmatch(member.removeprefix(kind)):
            return
    if member.startswith(_MEMBER_OTHER_KINDS) and member.partition(":")[2].strip("/"):
        return
    raise invalid(
        f"policy.bindings[{i}].members[{j}]",
        f"Invalid member {member!r}: use allUsers, allAuthenticatedUsers, user:EMAIL, "
        "serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, deleted:..., principal://... or "
        "principalSet://...",
    )


# Labels: Resource Manager "Creating and managing labels" (Requirements for labels), which
# Cloud Run's "Configure labels" page points to; the same rule as the Secret.labels docstring.
MAX_LABELS = 64


def _label_char(char: str, *, first: bool) -> bool:
    category = unicodedata.category(char)
    if category in {"Ll", "Lo"}:
        return True
    return not first and (char in "_-" or category.startswith("N"))


def check_labels(labels: Any, field: str = "labels") -> None:
    if not isinstance(labels, dict):
        raise invalid(field, f"{field} must be a map of strings")
    if len(labels) > MAX_LABELS:
        raise invalid(field, f"{len(labels)} labels; no more than {MAX_LABELS} are allowed")
    for key, value in labels.items():
        text = string(value, f"{field}[{key!r}]")
        if not (
            1 <= len(key) <= 63
            and _label_char(key[0], first=True)
            and all(_label_char(c, first=False) for c in key)
        ):
            raise invalid(
                field,
                f"Label key {key!r} is not valid: 1-63 lowercase letters, digits, _ and -, "
                "starting with a lowercase letter",
            )
        if not (len(text) <= 63 and all(_label_char(c, first=False) for c in text)):
            raise invalid(
                field,
                f"Label value {text!r} (key {key!r}) is not valid: 0-63 lowercase letters, "
                "digits, _ and -",
            )
