"""What one function instance holds: its configuration and, built lazily, its clients.

Clients are created once per instance, on first use, not at import (the module would then pay
for them on every cold start, even when the configuration is wrong) and not per request (each
new client opens a new channel). The Momento client is built only when a key needs refreshing.
The entry point builds one :class:`Runtime`; each run gets its :class:`Dependencies`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rotation.adapters.pacing import Pacer, grpc_interceptor
from rotation.rules.config import Config
from rotation.rules.identity import ProjectNumbers
from rotation.service import Dependencies

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from rotation.adapters.momento_auth import MomentoAuthClient
    from rotation.adapters.secret_store import GoogleSecretStore
    from rotation.rules.ports import KeyRefresher, SecretStore
    from rotation.service.rotate import Rotator


class Runtime:
    def __init__(self, config: Config, *, credentials: Credentials | None = None) -> None:
        self.config = config
        self._credentials = credentials
        # Learned from the names Secret Manager returns; lets an event's project number match
        # a configured project id without asking again.
        self.project_numbers = ProjectNumbers()
        # One pacer per instance: every thread and request of this instance shares its budgets.
        self.pacer = Pacer(
            reads_per_minute=config.reads_per_minute, writes_per_minute=config.writes_per_minute
        )
        self._lock = threading.Lock()
        self._store: GoogleSecretStore | None = None
        self._refresher: MomentoAuthClient | None = None

    def dependencies(self) -> Dependencies:
        """What a run uses. Builds the Secret Manager client on first use, so a missing
        credential or emulator is one SetupError, before any secret is tried."""
        return Dependencies(
            self.config, self.store(), self.refresher, self.pacer, self.project_numbers
        )

    def rotator(self) -> Rotator:
        return self.dependencies().rotator()

    def store(self) -> SecretStore:
        with self._lock:
            if self._store is None:
                from rotation.adapters.secret_store import GoogleSecretStore  # noqa: PLC0415

                self._store = GoogleSecretStore(
                    emulator_host=self.config.secret_manager_emulator_host,
                    deadline=self.config.store_deadline,
                    credentials=self._credentials,
                    interceptor=grpc_interceptor(self.pacer),
                )
            return self._store

    def refresher(self) -> KeyRefresher:
        with self._lock:
            if self._refresher is None:
                # Imports momento and its wire types: paid only by runs that refresh.
                from rotation.adapters.momento_auth import MomentoAuthClient  # noqa: PLC0415

                self._refresher = MomentoAuthClient(
                    control_endpoint=self.config.momento_control_endpoint,
                    insecure=self.config.momento_control_insecure,
                    timeout=self.config.momento_timeout,
                )
            return self._refresher

    def close(self) -> None:
        """Close the clients' channels. An instance never needs this; a process that outlives
        the servers it talked to (the bench, with its in-process emulators) does, or gRPC
        reports their going away."""
        with self._lock:
            if self._store is not None:
                self._store.close()
            if self._refresher is not None:
                self._refresher.close()
            self._store = self._refresher = None
