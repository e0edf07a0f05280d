"""Application Default Credentials for the CLI, checked before the first Secret Manager call.

In Cloud Functions the metadata server always provides credentials. From a shell, missing or
stale ones are the most common first error, and the client library would report them late and
badly: a refused token surfaces inside gRPC as a retried INTERNAL error, a minute later. So the
CLI resolves and refreshes them once, up front, and says what to run when that fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from momento_key_common.errors import ErrorCode, SecretStoreError, SetupError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_LOGIN = "run 'gcloud auth application-default login'"


def no_credentials() -> SetupError:
    """The error for google-auth's DefaultCredentialsError, wherever it is met."""
    return SetupError(
        f"no Google credentials were found to call Secret Manager with; {_LOGIN}, or set "
        "GOOGLE_APPLICATION_CREDENTIALS to a service account key file (or "
        "SECRET_MANAGER_EMULATOR_HOST to use an emulator)",
        code=ErrorCode.NO_CREDENTIALS,
    )


def application_default() -> Credentials:
    """Find and refresh Application Default Credentials; raise SetupError saying what to do."""
    import google.auth  # noqa: PLC0415  (cold start: only the CLI needs it here)
    from google.auth import exceptions  # noqa: PLC0415
    from google.auth.transport.requests import Request  # noqa: PLC0415

    try:
        credentials, _ = google.auth.default(scopes=_SCOPES)
    except exceptions.DefaultCredentialsError:
        raise no_credentials() from None
    try:
        credentials.refresh(Request())  # type: ignore[no-untyped-call]
    except exceptions.RefreshError:
        raise SetupError(
            "Google refused your Application Default Credentials (expired, revoked or for "
            f"another account); {_LOGIN} again, or set GOOGLE_APPLICATION_CREDENTIALS to a "
            "valid service account key file",
            code=ErrorCode.CREDENTIALS_REFUSED,
        ) from None
    except exceptions.TransportError:
        # Not the operator's setup, as far as we can tell: worth running again.
        raise SecretStoreError(
            "could not reach Google's token service to check your credentials; check your "
            "network connection and proxy settings, then run again",
            code=ErrorCode.SECRET_MANAGER_UNAVAILABLE,
        ) from None
    return credentials
