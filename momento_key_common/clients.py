"""Building Secret Manager clients: Google's endpoints (global or regional), or an emulator.

The one place the function and the reader build their clients, so that both talk to the same
endpoint for the same secret, and to an emulator the same way:

- a regional secret is served only by ``secretmanager.L.rep.googleapis.com``
  (:attr:`names.SecretName.endpoint`), so its client is built with that ``api_endpoint``;
- an emulator (``SECRET_MANAGER_EMULATOR_HOST``, the convention of Google's own emulators) speaks
  plaintext gRPC and wants no credentials (passing both raises ValueError);
- an optional gRPC client interceptor (the function's pacing) wraps whichever channel is used.

``google-cloud-secret-manager`` is imported here only when a client is built.
"""

from __future__ import annotations

from typing import Any

EMULATOR_VARIABLE = "SECRET_MANAGER_EMULATOR_HOST"


def google_client(
    *, endpoint: str | None = None, credentials: Any = None, interceptor: Any = None
) -> Any:
    """A client for Google's service: the global endpoint, or ``endpoint`` (a regional one).

    Raises google.auth's DefaultCredentialsError when no credentials are given or found.
    """
    from google.cloud import secretmanager  # noqa: PLC0415

    options: dict[str, Any] = {}
    if interceptor is not None:
        transport_class = _transport_class()

        # The client still resolves the endpoint and credentials as usual and hands them to the
        # transport, which builds its channel with them; the interceptor only wraps that channel.
        def channel(*args: Any, **kwargs: Any) -> Any:
            import grpc  # noqa: PLC0415

            create = transport_class.create_channel
            return grpc.intercept_channel(create(*args, **kwargs), interceptor)

        def transport(*args: Any, **kwargs: Any) -> Any:
            return transport_class(*args, channel=channel, **kwargs)

        options["transport"] = transport
    if endpoint is not None:
        options["client_options"] = {"api_endpoint": endpoint}
    return secretmanager.SecretManagerServiceClient(credentials=credentials, **options)


def emulator_channel(host: str) -> Any:
    """A plaintext channel to an emulator at ``host:port``."""
    import grpc  # noqa: PLC0415

    return grpc.insecure_channel(host)


def emulator_client(channel: Any, *, interceptor: Any = None) -> Any:
    """A client over ``channel`` (from :func:`emulator_channel`): one serves every location."""
    import grpc  # noqa: PLC0415
    from google.cloud import secretmanager  # noqa: PLC0415

    intercepted = grpc.intercept_channel(channel, interceptor) if interceptor else channel
    return secretmanager.SecretManagerServiceClient(
        transport=_transport_class()(channel=intercepted)
    )


def _transport_class() -> Any:
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (  # noqa: PLC0415
        SecretManagerServiceGrpcTransport,
    )

    return SecretManagerServiceGrpcTransport
