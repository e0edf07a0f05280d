"""The command line: ``python -m devtools.emulators.secret_manager [--port 8085]``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence

from devtools.emulators._server import argument_parser, serve_until_signalled
from devtools.emulators.secret_manager.emulator import SecretManagerEmulator


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(
        "devtools.emulators.secret_manager",
        "Serve an in-memory Secret Manager over plaintext gRPC until SIGINT/SIGTERM.",
        default_port=8085,
    )
    parser.add_argument(
        "--project-number",
        action="append",
        default=[],
        metavar="ID=NUMBER",
        help="map a project id to its number (repeatable); others get a derived number",
    )
    return parser.parse_args(argv)


def _project_numbers(pairs: Sequence[str]) -> Iterator[tuple[str, str]]:
    for pair in pairs:
        project, sep, number = pair.partition("=")
        if not sep or not number.isdigit():
            raise SystemExit(f"--project-number wants ID=NUMBER, got {pair!r}")
        yield project, number


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    emulator = SecretManagerEmulator(project_numbers=dict(_project_numbers(args.project_number)))
    return serve_until_signalled(
        emulator, "secret-manager emulator", host=args.host, port=args.port
    )
