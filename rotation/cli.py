"""``python -m rotation``: run one rotation from a shell, with the function's own code.

For an operator who wants to check or rotate a secret by hand, with their own Application
Default Credentials, without going through Cloud Scheduler. Configuration is the function's:
the same environment variables, which the flags below override.

Output: the function's JSON answer on stdout, and nothing else there, so it can be piped into
``jq``; log lines and explanations go to stderr. Exit 0 when nothing failed, 1 when a secret
failed, 2 on bad usage, configuration or credentials (something to fix before running again).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from rotation import logs
from rotation.config import load_config
from rotation.errors import ConfigError, RotationError, SetupError
from rotation.http import handle
from rotation.runtime import Runtime

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Codes of a run that could not start: fixed by the operator, not by running again.
_SETUP_CODES = {"no_credentials", "credentials_refused", "emulator_unreachable"}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.write_to(sys.stderr)
    try:
        env, names = _environment(args)
        config = load_config(env, names=names)
        credentials = None
        if not config.secret_manager_emulator_host:
            from rotation.credentials import application_default  # noqa: PLC0415

            credentials = application_default()
    except (ConfigError, SetupError) as error:
        print(f"rotation: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except RotationError as error:
        print(f"rotation: {error.message}", file=sys.stderr)
        return EXIT_FAILED
    return _run(Runtime(config, credentials=credentials), force=args.force, dry_run=args.dry_run)


def _run(runtime: Runtime, *, force: bool, dry_run: bool) -> int:
    request = json.dumps({"force": force, "dry_run": dry_run}).encode()
    body, status, _ = handle(runtime, "POST", request, "application/json")
    print(json.dumps(body, indent=2))
    error = body.get("error")
    if error and error["code"] in _SETUP_CODES:
        print(f"rotation: {error['message']}", file=sys.stderr)
        return EXIT_USAGE
    if force:
        _explain_unforced(body["results"])
    return EXIT_OK if status == 200 else EXIT_FAILED


def _explain_unforced(results: list[dict[str, Any]]) -> None:
    # A forced run that skips is not an error (a burst of forced runs refreshes once), but the
    # operator asked for a refresh and deserves to hear why there was none.
    for result in results:
        if result["action"] == "skipped":
            print(
                f"rotation: --force did not refresh {result['secret']}: {result['reason']}",
                file=sys.stderr,
            )


def _environment(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    """The function's environment with the flags applied, and what to call each flag's variable."""
    env = dict(os.environ)
    names: dict[str, str] = {}
    if args.secrets is not None:
        env["ROTATION_SECRETS"] = args.secrets
        names["ROTATION_SECRETS"] = "--secrets"
    if args.project is not None:
        env["GOOGLE_CLOUD_PROJECT"] = args.project
    if args.project is not None or not (env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT")):
        names["GOOGLE_CLOUD_PROJECT"] = "--project"
    return env, names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rotation",
        description="Rotate the configured Momento keys once, as the function would. Prints "
        "the function's JSON answer on stdout; logs go to stderr.",
    )
    parser.add_argument(
        "--secrets", help="comma-separated secret names (default: $ROTATION_SECRETS)"
    )
    parser.add_argument("--project", help="resolves short names (default: $GOOGLE_CLOUD_PROJECT)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="refresh even if not close to expiry (not within LEASE_DURATION of the last "
        "refresh: a burst of forced runs refreshes once)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would be done, change nothing"
    )
    return parser
