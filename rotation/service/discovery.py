"""Which secrets this deployment manages: ROTATION_SECRETS, plus those carrying ROTATION_LABEL.

ListSecrets is per location: the project's global secrets, then each location in
``ROTATION_LOCATIONS``' regional ones. Discovered secrets come back named by project number;
they are renamed to the configured project's id, the form ROTATION_SECRETS uses, so that one
secret has one name in every result, log line and comparison (the listing was of that project,
so the two name the same secret). The location stays: it is part of the secret's identity.
"""

from __future__ import annotations

from momento_key_common import names
from rotation.rules.config import Config
from rotation.rules.ports import SecretStore


def managed_secrets(config: Config, store: SecretStore) -> tuple[str, ...]:
    """The explicit secrets, then the labelled ones not already among them; one ListSecrets
    (all pages) per location searched when a label is configured, none otherwise."""
    if config.rotation_label is None or config.project is None:
        return config.secrets
    key, value = config.rotation_label
    parents = [
        str(names.SecretName(config.project, "-", location).parent)
        for location in (None, *config.locations)
    ]
    discovered: list[str] = []
    for parent in parents:
        for returned in store.list_labelled(parent, key, value):
            name = names.of(returned)
            if name is not None:
                discovered.append(str(name.in_project(config.project)))
    return tuple(dict.fromkeys((*config.secrets, *discovered)))
