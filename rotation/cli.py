"""``python -m rotation``: run one rotation from a shell, with the function's own code.

For an operator who wants to check or rotate a secret by hand, with their own Application
Default Credentials, without going through Cloud Scheduler. Configuration is the function's:
the same environment variables, which the flags below override. It prints the same JSON the
function answers, and exits 0 when nothing failed, 1 when a secret failed, 2 on bad usage or
configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rotation import redact, service
from rotation.config import load_config
from rotation.errors import RotationError
from rotation.request import parse_request
from rotation.runtime import Runtime

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = dict(os.environ)
    if args.secrets:
        env["ROTATION_SECRETS"] = args.secrets
    if args.project:
        env["GOOGLE_CLOUD_PROJECT"] = args.project
    try:
        config = load_config(env)
    except RotationError as error:
        print(f"rotation: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    # The same request the HTTP entry point would build (DRY_RUN=true can't be turned off).
    body = json.dumps({"force": args.force, "dry_run": args.dry_run}).encode()
    request = parse_request(body, "application/json", config)
    with redact.request_scope():
        try:
            outcome = service.run(Runtime(config), request)
        except Exception as error:  # noqa: BLE001 - as the HTTP entry point: type only, no text
            print(f"rotation: unexpected internal error ({type(error).__name__})", file=sys.stderr)
            return EXIT_FAILED
        # The function's own log lines went to stdout; the result goes last, on its own.
        print(json.dumps(outcome.to_json(), indent=2))
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rotation",
        description="Rotate the configured Momento keys once, as the function would.",
    )
    parser.add_argument(
        "--secrets", help="comma-separated secret names (default: $ROTATION_SECRETS)"
    )
    parser.add_argument("--project", help="resolves short names (default: $GOOGLE_CLOUD_PROJECT)")
    parser.add_argument("--force", action="store_true", help="refresh even if not close to expiry")
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would be done, change nothing"
    )
    return parser
