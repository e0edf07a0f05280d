"""When two secret names are the same secret.

Requests may name a project by id (``projects/my-project/...``) or by number; every name Secret
Manager returns uses the number. So ``ROTATION_SECRETS`` usually holds ids while a Pub/Sub
notification's ``secretId`` always holds the number. A secret is the pair (project, secret id),
with the project compared by number once the number is known.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rotation.errors import RotationError


def split(name: str) -> tuple[str, str]:
    """``projects/P/secrets/S[/...]`` -> (P, S)."""
    parts = name.split("/")
    return parts[1], parts[3]


class ProjectNumbers:
    """Project id -> number, learned from names Secret Manager returned; one per instance.

    ``learn`` costs nothing: callers pass any name the service returned for a secret they
    named by id. ``number`` asks ``lookup`` (one call) only for a project never seen.
    """

    def __init__(self) -> None:
        self._numbers: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, configured: str, returned: str) -> None:
        project, _ = split(configured)
        number, _ = split(returned)
        with self._lock:
            self._numbers[project] = number

    def number(self, secret: str, lookup: Callable[[str], str]) -> str:
        """The project number of ``secret``; ``lookup(secret)`` returns a name the service gave."""
        project, _ = split(secret)
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
    project, secret_id = split(name)
    for candidate in configured:
        candidate_project, candidate_id = split(candidate)
        if candidate_id != secret_id:
            continue
        if candidate_project == project:
            return candidate
        if project.isdigit() and numbers.number(candidate, lookup) == project:
            return candidate
    return None


def distinct_secrets(
    secrets: tuple[str, ...], numbers: ProjectNumbers, lookup: Callable[[str], str]
) -> tuple[str, ...]:
    """``secrets`` with each secret once, in order, the first spelling kept.

    A lookup is made only for a project id whose secret id also appears under a project
    number: ``projects/p/secrets/s`` and ``projects/123/secrets/s`` may be one secret.
    """
    kept: list[str] = []
    for name in secrets:
        if name in kept:
            continue
        _, secret_id = split(name)
        rivals = tuple(other for other in kept if split(other)[1] == secret_id)
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
