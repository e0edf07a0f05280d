"""The fake IAM: service accounts and project custom roles (``/iam/v1/projects/P/...``).

IAM policy bindings are checked in :mod:`.rules`, as every API with a policy shares them. The
sources are named as in the package docstring.

| rule | source | test |
|---|---|---|
| service account id: 6-30 chars matching ``[a-z]([-a-z0-9]*[a-z0-9])`` | iam.proto CreateServiceAccountRequest.account_id | test_service_account_id_allowed, test_service_account_id_refused |
| service account display name: at most 100 UTF-8 bytes | iam.proto ServiceAccount.display_name | test_service_account_display_name_is_at_most_100_utf8_bytes |
| service account description: at most 256 UTF-8 bytes | iam.proto ServiceAccount.description | test_service_account_description_is_at_most_256_utf8_bytes |
| custom role id: 3-64 chars of letters, digits, ``_`` and ``.`` | iam.proto CreateRoleRequest.role_id; IAM "Quotas and limits" (custom role ID 64 bytes) | test_custom_role_id_allowed, test_custom_role_id_refused |
| custom role title: at most 100 UTF-8 bytes | IAM "Quotas and limits" (custom role title 100 bytes); iam.proto Role.title ("typically limited to 100 UTF-8 bytes") | test_custom_role_title_is_at_most_100_utf8_bytes |
| custom role description: at most 300 UTF-8 bytes | IAM "Quotas and limits" (custom role description 300 bytes) | test_custom_role_description_is_at_most_300_utf8_bytes |
| custom role stage: ALPHA, BETA, GA, DEPRECATED, DISABLED or EAP | iam.proto Role.RoleLaunchStage | test_custom_role_stage_is_a_launch_stage |
| permissions: the form service.resource.verb | IAM "Roles and permissions" / "Understanding custom roles" | test_custom_role_permissions_are_service_resource_verb |
| role updates (PATCH) obey the same rules | as above | test_custom_role_update_is_checked_too |
| unknown: the number of permissions a custom role may hold, and whether a permission exists or is supported in custom roles; only the form is checked | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import base64
import copy
import re
from typing import Any

from .common import JSON, ApiError, Call, Routes, apply_mask, b64decode, not_found
from .rules import invalid, string, utf8_size


def _max_bytes(value: Any, field: str, limit: int) -> None:
    text = string(value, field)
    if utf8_size(text) > limit:
        raise invalid(field, f"{field} is {utf8_size(text)} bytes of UTF-8; the limit is {limit}")


# IAM: iam.proto CreateServiceAccountRequest.account_id.
_ACCOUNT_ID = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])")


def check_account_id(account_id: Any) -> None:
    value = string(account_id, "account_id")
    if not (6 <= len(value) <= 30 and _ACCOUNT_ID.fullmatch(value)):
        raise invalid(
            "account_id",
            f"Invalid account_id {value!r}: it must be 6-30 characters long and match "
            "[a-z]([-a-z0-9]*[a-z0-9])",
        )


def check_service_account(details: Any) -> None:
    if not isinstance(details, dict):
        raise invalid("service_account", "service_account must be an object")
    if "displayName" in details:  # iam.proto ServiceAccount.display_name
        _max_bytes(details["displayName"], "service_account.display_name", 100)
    if "description" in details:  # iam.proto ServiceAccount.description
        _max_bytes(details["description"], "service_account.description", 256)


# IAM custom roles: iam.proto CreateRoleRequest.role_id; IAM "Quotas and limits" (Limits).
_ROLE_ID = re.compile(r"[A-Za-z0-9_.]{3,64}")
ROLE_STAGES = frozenset({"ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"})
# "Roles and permissions": permissions are represented as service.resource.verb.
_PERMISSION = re.compile(r"[^.\s]+\.[^.\s]+\.[^.\s]+")


def check_role_id(role_id: Any) -> None:
    value = string(role_id, "role_id")
    if not _ROLE_ID.fullmatch(value):
        raise invalid(
            "role_id",
            f"Invalid role_id {value!r}: a role ID may contain alphanumeric characters, "
            "underscores (_) and periods (.), and be 3 to 64 characters long",
        )


def check_role(role: Any) -> None:
    if not isinstance(role, dict):
        raise invalid("role", "role must be an object")
    if "title" in role:
        _max_bytes(role["title"], "role.title", 100)
    if "description" in role:
        _max_bytes(role["description"], "role.description", 300)
    if "stage" in role and role["stage"] not in ROLE_STAGES:
        raise invalid("role.stage", f"Invalid value at 'role.stage' ({role['stage']!r})")
    permissions = role.get("includedPermissions", [])
    if not isinstance(permissions, list):
        raise invalid("role.included_permissions", "included_permissions must be a list")
    for index, permission in enumerate(permissions):
        field = f"role.included_permissions[{index}]"
        if not _PERMISSION.fullmatch(string(permission, field)):
            raise invalid(
                field,
                f"Permission {permission!r} is not valid: permissions have the form "
                "service.resource.verb",
            )


class IamApi(Routes):
    """Service accounts and custom roles."""

    service_accounts: dict[str, JSON]
    roles: dict[str, JSON]

    def _add_iam_routes(self) -> None:
        route = self._route

        # --- IAM: service accounts
        @route("GET", "iam", "/v1/projects/{project}/serviceAccounts/{email}")
        def get_account(c: Call) -> JSON:
            return self._account(c.params["email"])

        @route("POST", "iam", "/v1/projects/{project}/serviceAccounts")
        def create_account(c: Call) -> JSON:
            p = c.params["project"]
            check_account_id(c.body.get("accountId"))
            check_service_account(c.body.get("serviceAccount", {}))
            account_id = c.body["accountId"]
            email = f"{account_id}@{p}.iam.gserviceaccount.com"
            if email in self.service_accounts:
                raise ApiError(409, f"Service account {account_id} already exists within project")
            details = c.body.get("serviceAccount", {})
            account = {
                "name": f"projects/{p}/serviceAccounts/{email}",
                "projectId": p,
                "uniqueId": str(100000000000000000000 + next(self._ids)),
                "email": email,
                "displayName": details.get("displayName", ""),
                "description": details.get("description", ""),
                "oauth2ClientId": str(next(self._ids)),
            }
            self.service_accounts[email] = account
            return account

        @route("DELETE", "iam", "/v1/projects/{project}/serviceAccounts/{email}")
        def delete_account(c: Call) -> JSON:
            self._account(c.params["email"])
            del self.service_accounts[c.params["email"]]
            return {}

        # --- IAM: custom roles
        @route("GET", "iam", "/v1/projects/{project}/roles/{role}")
        def get_role(c: Call) -> JSON:
            return self._role(c.params["project"], c.params["role"])

        @route("POST", "iam", "/v1/projects/{project}/roles")
        def create_role(c: Call) -> JSON:
            check_role_id(c.body.get("roleId"))
            check_role(c.body.get("role", {}))
            name = f"projects/{c.params['project']}/roles/{c.body['roleId']}"
            if name in self.roles:
                raise ApiError(409, f"A role named {c.body['roleId']} in {name} already exists.")
            role = {**c.body.get("role", {}), "name": name}
            role.setdefault("stage", "ALPHA")
            return self._store_role(role)

        @route("PATCH", "iam", "/v1/projects/{project}/roles/{role}")
        def update_role(c: Call) -> JSON:
            role = self._role(c.params["project"], c.params["role"])
            if c.body.get("etag") and b64decode(c.body["etag"]) != b64decode(role["etag"]):
                raise ApiError(409, "etag mismatch", "ABORTED")
            mask = c.q("updateMask") or ",".join(k for k in c.body if k not in {"name", "etag"})
            updated = copy.deepcopy(role)
            apply_mask(updated, c.body, mask)
            check_role(updated)
            return self._store_role(updated)

        @route("DELETE", "iam", "/v1/projects/{project}/roles/{role}")
        def delete_role(c: Call) -> JSON:
            role = self._role(c.params["project"], c.params["role"])
            role["deleted"] = True
            return self._store_role(role)

        @route("POST", "iam", "/v1/projects/{project}/roles/{role}:undelete")
        def undelete_role(c: Call) -> JSON:
            role = self._role(c.params["project"], c.params["role"])
            role.pop("deleted", None)
            return self._store_role(role)

    def _account(self, email: str) -> JSON:
        if email not in self.service_accounts:
            raise not_found(f"Service account {email}")
        return self.service_accounts[email]

    def _role(self, project: str, role_id: str) -> JSON:
        name = f"projects/{project}/roles/{role_id}"
        if name not in self.roles:
            raise not_found(f"Role {name}")
        return self.roles[name]

    def _store_role(self, role: JSON) -> JSON:
        role["etag"] = base64.b64encode(f"role-{next(self._ids)}".encode()).decode()
        self.roles[role["name"]] = role
        return role
