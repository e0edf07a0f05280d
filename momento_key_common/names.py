"""Secret names, global and regional: the one place they are parsed, formed and compared.

Secret Manager has two kinds of secret. A global one is ``projects/P/secrets/S``; a regional
one, whose data stays in location L, is ``projects/P/locations/L/secrets/S`` and is served only
by the regional endpoint ``secretmanager.L.rep.googleapis.com``. A global and a regional secret
with the same id are different secrets, as are two regions' (see the emulator's rule table).

Pure: no I/O, standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SECRET_ID = r"[A-Za-z0-9_-]{1,255}"
PROJECT = r"[a-z0-9](?:[a-z0-9:.-]{0,98}[a-z0-9])?"
# A location id such as us-central1 or europe-west4: lowercase letters, digits and hyphens.
LOCATION = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
FULL_SECRET_NAME = re.compile(
    rf"projects/(?P<project>{PROJECT})(?:/locations/(?P<location>{LOCATION}))?"
    rf"/secrets/(?P<secret>{SECRET_ID})"
)
_VERSION = re.compile(rf"(?P<secret_name>{FULL_SECRET_NAME.pattern})/versions/(?P<version>[^/]+)")
_SHORT_NAME = re.compile(SECRET_ID)
_LOCATION = re.compile(LOCATION)
GLOBAL_ENDPOINT = "secretmanager.googleapis.com"

FORM = (
    "projects/PROJECT/secrets/SECRET, projects/PROJECT/locations/LOCATION/secrets/SECRET "
    "(a regional secret), or SECRET (letters, digits, - and _: a global secret in the project)"
)


@dataclass(frozen=True, order=True)
class SecretName:
    """A secret's name: its project (id or number), its location (None: global) and its id."""

    project: str
    secret_id: str
    location: str | None = None

    def __str__(self) -> str:
        return f"{self.parent}/secrets/{self.secret_id}"

    @property
    def parent(self) -> str:
        """What the secret is listed under: the project, or the project's location."""
        if self.location is None:
            return f"projects/{self.project}"
        return f"projects/{self.project}/locations/{self.location}"

    @property
    def kind(self) -> str:
        return "global" if self.location is None else f"regional ({self.location})"

    @property
    def endpoint(self) -> str:
        """The Secret Manager endpoint that serves this secret."""
        return regional_endpoint(self.location) if self.location else GLOBAL_ENDPOINT

    def in_project(self, project: str) -> SecretName:
        """The same secret, its project named ``project`` (an id for a number, or back)."""
        return SecretName(project, self.secret_id, self.location)

    def same_place(self, other: SecretName) -> bool:
        """Whether the two can be one secret: same location and id (projects aside)."""
        return (self.location, self.secret_id) == (other.location, other.secret_id)


def regional_endpoint(location: str) -> str:
    return f"secretmanager.{location}.rep.googleapis.com"


def parse(text: str) -> SecretName | None:
    """The name ``text`` spells in full (global or regional), or None."""
    match = FULL_SECRET_NAME.fullmatch(text)
    if match is None:
        return None
    return SecretName(match["project"], match["secret"], match["location"])


def of(resource: str) -> SecretName | None:
    """The secret a secret or version name belongs to (``.../versions/N`` allowed), or None."""
    match = _VERSION.fullmatch(resource)
    return parse(match["secret_name"] if match else resource)


class NameFormError(ValueError):
    """The text is no secret name; ``detail`` says which part is wrong, when one is."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "not a secret name")
        self.detail = detail


class NoProjectError(NameFormError):
    """A short name, and no project to put it in."""


def resolve(text: str, project: str | None) -> SecretName:
    """The secret a user's name means: a full name as it is, a short one as a global secret in
    ``project``. Raises NameFormError (NoProjectError for a short name without a project)."""
    full = parse(text)
    if full is not None:
        return full
    if _SHORT_NAME.fullmatch(text):
        if not project:
            raise NoProjectError
        return SecretName(project, text)
    if text.startswith("projects/") and "/locations/" in text:
        location = text.split("/locations/", 1)[1].split("/", 1)[0]
        if not _LOCATION.fullmatch(location):
            raise NameFormError(
                f"location {location[:64]!r} is not a location id (lowercase letters, digits "
                "and -, such as us-central1)"
            )
    raise NameFormError


def is_location(text: str) -> bool:
    return _LOCATION.fullmatch(text) is not None
