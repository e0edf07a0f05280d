"""Which secrets this deployment manages: ROTATION_SECRETS, plus those carrying ROTATION_LABEL.

Discovered secrets come back named by project number; they are renamed to the configured
project's id, the form ROTATION_SECRETS uses, so that one secret has one name in every result,
log line and comparison (the listing was of that project, so the two name the same secret).
"""

from __future__ import annotations

from rotation.config import Config
from rotation.identity import split
from rotation.ports import SecretStore


def managed_secrets(config: Config, store: SecretStore) -> tuple[str, ...]:
    """The explicit secrets, then the labelled ones not already among them; one ListSecrets
    (all pages) when a label is configured, none otherwise."""
    if config.rotation_label is None or config.project is None:
        return config.secrets
    key, value = config.rotation_label
    discovered = (
        f"projects/{config.project}/secrets/{split(name)[1]}"
        for name in store.list_labelled(config.project, key, value)
    )
    return tuple(dict.fromkeys((*config.secrets, *discovered)))
