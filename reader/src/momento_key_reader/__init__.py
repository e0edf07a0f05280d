"""Read the Momento key that the rotation function keeps fresh in Secret Manager.

::

    from momento_key_reader import KeyReader

    reader = KeyReader("momento-api-key", project="my-project")
    client = CacheClient.create(Configurations.Laptop.latest(), reader.credential_provider(), ttl)
    reader.api_key()  # the key itself, for other SDKs

See :mod:`momento_key_reader.reader` for the policy, and the repository's README, "Reading the
key from your application".
"""

from momento_key_reader.reader import (
    DEFAULT_MARGIN,
    DEFAULT_MAX_AGE,
    DEFAULT_MIN_INTERVAL,
    DEFAULT_TIMEOUT,
    AsyncKeyReader,
    KeyReader,
    KeyUnavailableError,
)

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MIN_INTERVAL",
    "DEFAULT_TIMEOUT",
    "AsyncKeyReader",
    "KeyReader",
    "KeyUnavailableError",
]
__version__ = "0.1.0"
