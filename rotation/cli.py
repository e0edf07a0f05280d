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

from rotation.config import load_config
from rotation.errors import RotationError
from rotation.http import handle
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
    request = {"force": args.force, "dry_run": args.dry_run}
    body, status, _ = handle(
        Runtime(config), "POST", json.dumps(request).encode(), "application/json"
    )
    # The function's own log lines went to stdout; the result goes last, on its own.
    print(json.dumps(body, indent=2))
    return EXIT_OK if status == 200 else EXIT_FAILED


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
