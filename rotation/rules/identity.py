"""When two secret names are the same secret.

Requests may name a project by id (``projects/my-project/...``) or by number; every name Secret
Manager returns uses the number. So ``ROTATION_SECRETS`` usually holds ids while a Pub/Sub
notification's ``secretId`` always holds the number. A secret is the triple (project, location,
secret id), with the project compared by number once the number is known. The location (none
for a global secret) is part of the identity: a global and a regional secret with the same id
are different secrets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from momento_key_common import names
from momento_key_common.errors import RotationError


def _name(text: str) -> names.SecretName:
    name = names.of(text)
    if name is None:
        raise ValueError(f"not a secret name: {text[:80]!r}")
    return name


def project_of(text: str) -> str:
    return _name(text).project


class ProjectNumbers:
    """Project id -> number, learned from names Secret Manager returned; one per instance.

    ``learn`` costs nothing: callers pass any name the service returned for a secret they
    named by id. ``number`` asks ``lookup`` (one call) only for a project never seen.
    """

    def __init__(self) -> None:
        self._numbers: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, configured: str, returned: str) -> None:
        project, number = project_of(configured), project_of(returned)
        with self._lock:
            self._numbers[project] = number

    def number(self, secret: str, lookup: Callable[[str], str]) -> str:
        """The project number of ``secret``; ``lookup(secret)`` returns a name the service gave."""
        project = project_of(secret)
        if project.isdigit():
            return project
        with self._lock:
            known = self._numbers.get(project)
        if known is None:
            self.learn(secret, lookup(secret))
            with self._lock:
                known = self._numbers[project]
        return known


def configured_for(
    name: str, configured: tuple[str, ...], numbers: ProjectNumbers, lookup: Callable[[str], str]
) -> str | None:
    """The configured secret that ``name`` denotes, however either names its project."""
    wanted = _name(name)
    for candidate in configured:
        theirs = _name(candidate)
        if not theirs.same_place(wanted):
            continue
        if theirs.project == wanted.project:
            return candidate
        if wanted.project.isdigit() and numbers.number(candidate, lookup) == wanted.project:
            return candidate
    return None


def distinct_secrets(
    secrets: tuple[str, ...], numbers: ProjectNumbers, lookup: Callable[[str], str]
) -> tuple[str, ...]:
    """``secrets`` with each secret once, in order, the first spelling kept.

    A lookup is made only for a project id whose secret (same location and id) also appears
    under another project spelling: ``projects/p/secrets/s`` and ``projects/123/secrets/s``
    may be one secret.
    """
    kept: list[str] = []
    for name in secrets:
        if name in kept:
            continue
        rivals = tuple(other for other in kept if _name(other).same_place(_name(name)))
        if rivals and _same_as_any(name, rivals, numbers, lookup):
            continue
        kept.append(name)
    return tuple(kept)


def _same_as_any(
    name: str, others: tuple[str, ...], numbers: ProjectNumbers, lookup: Callable[[str], str]
) -> bool:
    try:
        mine = numbers.number(name, lookup)
        return any(numbers.number(other, lookup) == mine for other in others)
    except RotationError:
        return False  # can't tell (deleted, say): rotate both, and each reports what it finds
