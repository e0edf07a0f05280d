"""Resource names: global and regional secrets and versions, location ids, project numbers.

Global names are ``projects/P/secrets/S``, regional ones ``projects/P/locations/L/secrets/S``.
The real service serves a regional secret only on its location's endpoint; the emulator is one
server for every endpoint, so a name's location alone decides which secret a call reaches.
Requests may name a project by id or number; every returned name uses the project NUMBER.

Rows of the rule table (its sources and status codes: see the package docstring):

| rule | source | test |
|---|---|---|
| regional names on every RPC: `projects/P/locations/L/secrets/S[/versions/V]`, and `projects/P/locations/L` as the CreateSecret/ListSecrets parent; every returned name keeps the location and uses the project NUMBER | service.py *Request.name/parent ("``projects/*/locations/*/secrets/*``", "``projects/*`` or ``projects/*/locations/*``"); "REST Resource: projects.locations.secrets" ("The resource name of the Secret in the format projects/*/locations/*/secrets/*") | test_regional_names_work_on_every_rpc_and_come_back_with_the_project_number |
| unknown: whether regional names come back with the project number (documented, PLATFORM.md, for global names only); we use the number, as for global names | (none) | test_regional_names_work_on_every_rpc_and_come_back_with_the_project_number |
| a regional secret and a global one with the same id, or two locations' secrets with the same id, are different secrets: the location in a name decides which one a call reaches, and deleting one leaves the others | "REST Resource: projects.locations.secrets" (the location is part of the name); "Secret Manager locations" ("Regional endpoints are request endpoints that only allow requests to proceed if the affected resource exists in the location specified by the endpoint") | test_the_location_in_a_name_decides_which_secret_a_call_reaches |
| unknown: service.py CreateSecretRequest.secret_id says "This must be unique within the project" (text older than regional secrets); we read it as unique within its location, so the same id may be created globally and in each location | service.py CreateSecretRequest.secret_id | test_the_location_in_a_name_decides_which_secret_a_call_reaches |
| location id: 1-63 lowercase letters, digits and `-`, starting with a letter, ending with a letter or digit; otherwise INVALID_ARGUMENT naming the location, on every RPC before any other check (and on hooks and GetLocation) | AIP-122 ("should conform to RFC-1034 ... letters, numbers, and hyphen, with the first character a letter, the last a letter or a number, and a 63 character maximum ... restrict letters to lower-case"); the id is a DNS label of `secretmanager.L.rep.googleapis.com` ("Secret Manager locations") | test_location_ids_are_lowercase_dns_labels, test_every_rpc_names_a_bad_location_before_any_other_check, test_hooks_refuse_a_bad_location |
| unknown: Secret Manager documents no form for location ids (its pages show `us-central1`, `me-central2`, ...), nor the status code; we apply AIP-122's form and answer INVALID_ARGUMENT (upstream a malformed id would rather give a host that does not resolve) | (none) | test_location_ids_are_lowercase_dns_labels |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from devtools.emulators.secret_manager.errors import invalid

# Names of global (projects/P/...) and regional (projects/P/locations/L/...) resources. The
# location group is None for a global name; its form is checked apart (_LOCATION_ID), so that
# the error can say the location is what is wrong.
PARENT_NAME = re.compile(r"projects/([^/]+)(?:/locations/([^/]+))?")
SECRET_NAME = re.compile(r"projects/([^/]+)(?:/locations/([^/]+))?/secrets/([^/]+)")
VERSION_NAME = re.compile(
    r"projects/([^/]+)(?:/locations/([^/]+))?/secrets/([^/]+)/versions/([^/]+)"
)
PROJECT_NAME = re.compile(r"projects/([^/]+)")
LOCATION_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)")
# The location of any regional name, for the endpoint check made before an RPC runs.
REGIONAL_PREFIX = re.compile(r"projects/[^/]+/locations/([^/]+)(?:/|$)")
# Location ids: Secret Manager documents no form. AIP-122's form for resource ID segments
# (RFC 1034: lowercase letters, digits and '-', first a letter, last a letter or digit, at most
# 63 characters), which also makes secretmanager.L.rep.googleapis.com a valid host name.
_LOCATION_ID = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
# The name patterns whose second group is a location.
_LOCATED_NAMES = (PARENT_NAME, SECRET_NAME, VERSION_NAME, LOCATION_NAME)


def is_location_id(location: str) -> bool:
    """Whether ``location`` has the form the emulator accepts for a location id (see
    ``_LOCATION_ID``: lowercase letters, digits and '-', such as ``us-central1``)."""
    return _LOCATION_ID.fullmatch(location) is not None


class Key(NamedTuple):
    """Where a secret is stored: project NUMBER, location (None: global), secret id. A regional
    secret and a global one with the same id, or two regions' secrets, are different keys."""

    project: str
    location: str | None
    secret: str

    @property
    def name(self) -> str:
        """The canonical name: the one every response uses."""
        return f"{parent_name(self.project, self.location)}/secrets/{self.secret}"


def parent_name(project: str, location: str | None) -> str:
    return f"projects/{project}" if location is None else f"projects/{project}/locations/{location}"


def project_number(project: str, project_numbers: Mapping[str, str] | None = None) -> str:
    """The number the emulator uses for ``project`` (an id or already a number).

    Unmapped ids get a 12-digit number from a hash of the id, so it is the same in every
    process and run: a test can predict it, and two emulators agree on it.
    """
    if project.isdigit():
        return project
    if project_numbers and project in project_numbers:
        return project_numbers[project]
    digest = int.from_bytes(hashlib.sha256(project.encode()).digest()[:8], "big")
    return str(10**11 + digest % (9 * 10**11))


def check_location(location: str, name: str) -> None:
    if not is_location_id(location):
        raise invalid(
            f"Location {location[:64]!r} in {name[:300]!r} is not a location id: lowercase "
            "letters, digits and '-', starting with a letter and ending with a letter or digit, "
            "at most 63 characters (such as us-central1)."
        )


class NameParser:
    """Reads the names requests carry, with each project id turned into its number
    (``project_numbers`` first, else the derived one of ``project_number``)."""

    def __init__(self, project_numbers: Mapping[str, str] | None = None) -> None:
        self._project_numbers = dict(project_numbers or {})

    def parse(self, pattern: re.Pattern[str], name: str, what: str) -> tuple[str, ...]:
        """The groups of ``name``, the project as its number (an optional group that is absent,
        such as the location of a global name, is None); INVALID_ARGUMENT if ``name`` is not of
        the form, or names a location that is not a well-formed location id."""
        match = pattern.fullmatch(name)
        if match is None:
            raise invalid(f"Invalid {what} name {name!r}.")
        project, *rest = match.groups()
        if pattern in _LOCATED_NAMES and rest[0] is not None:
            check_location(rest[0], name)
        return (project_number(project, self._project_numbers), *rest)

    def parent(self, name: str) -> tuple[str, str | None]:
        """A CreateSecret/ListSecrets parent: ``projects/P`` or ``projects/P/locations/L``."""
        project, location = self.parse(PARENT_NAME, name, "parent")
        return project, location

    def secret_key(self, name: str) -> Key:
        project, location, secret_id = self.parse(SECRET_NAME, name, "secret")
        return Key(project, location, secret_id)

    def version_key(self, name: str) -> tuple[Key, str]:
        project, location, secret_id, version_id = self.parse(VERSION_NAME, name, "secret version")
        return Key(project, location, secret_id), version_id


def request_resource(request: Any) -> str:
    """The secret or version a request names, for the call log."""
    for attribute in ("name", "parent"):
        value = getattr(request, attribute, None)
        if isinstance(value, str) and value:
            return value
    secret = getattr(request, "secret", None)
    return str(getattr(secret, "name", "") or "")
