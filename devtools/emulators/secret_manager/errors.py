"""The error the Secret Manager emulator fails with, and shorthands for the codes it uses most.

The proto field docstrings state rules but not status codes: a broken rule is INVALID_ARGUMENT
(AIP-193's code for a bad argument) unless the rule table says otherwise.
"""

from __future__ import annotations

import grpc

from devtools.emulators._server import StatusError


class EmulatorError(StatusError):
    """A failure with a gRPC status; RPCs turn it into that status, test hooks raise it."""

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def invalid(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.NOT_FOUND, message)


def precondition(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.FAILED_PRECONDITION, message)
