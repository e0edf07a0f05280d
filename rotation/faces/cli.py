"""``python -m rotation``: the operator's commands, with the function's own code.

    python -m rotation [rotate] [--secrets S,...] [--project P] [--force] [--dry-run]
    python -m rotation seed --from FILE SECRET [--project P] [--no-refresh]
    python -m rotation status [SECRET ...] [--project P] [--json]

``rotate`` (the default) runs one rotation as the function would, with your Application Default
Credentials. ``seed`` checks a token JSON downloaded from Momento's console (refusing v2 and
expired keys), adds it as the secret's new version, then refreshes it once: a refresh token can
only be tested by using it, and a spent one had better fail now than at the next scheduled run.
``status`` says, per secret, what the
next run would do: the latest version and its key's expiry, whether it is due, the enabled
versions and which the next sweep would disable, and the lease; it changes nothing.
Configuration is the function's: the same environment variables, which the flags override.

Output: one JSON document on stdout, and nothing else there, so it can be piped into ``jq``;
log lines and explanations go to stderr. Exit 0 when nothing failed, 1 when something failed,
2 on bad usage, configuration, input or credentials (something to fix before running again).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from momento_key_common import redact
from momento_key_common.errors import (
    ConfigError,
    NotRefreshableError,
    RotationError,
    SetupError,
    TokenDocumentError,
)
from momento_key_common.token import parse_document
from rotation import service
from rotation.adapters import logs
from rotation.faces.check import check_document
from rotation.rules.config import Config, load_config
from rotation.rules.policy import epoch_to_rfc3339
from rotation.service import RotationRequest
from rotation.service.discovery import managed_secrets
from rotation.service.runtime import Runtime

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
COMMANDS = ("rotate", "seed", "status")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in (*COMMANDS, "-h", "--help"):
        arguments.insert(0, "rotate")  # the command before there were others
    args = _parser().parse_args(arguments)
    logs.write_to(sys.stderr)
    try:
        runtime = _runtime(args)
        if args.command == "seed":
            secret = runtime.config.secrets[0]
            return _seed(runtime, Path(args.source), secret, refresh=not args.no_refresh)
        if args.command == "status":
            return _status(runtime, as_json=args.json)
        named_in = "--secrets" if args.secrets is not None else "ROTATION_SECRETS"
        return _rotate(runtime, force=args.force, dry_run=args.dry_run, named_in=named_in)
    except (ConfigError, SetupError, TokenDocumentError, NotRefreshableError) as error:
        print(f"rotation: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except RotationError as error:
        print(f"rotation: {error.message}", file=sys.stderr)
        return EXIT_FAILED


def _runtime(args: argparse.Namespace) -> Runtime:
    env, names = _environment(args)
    config: Config = load_config(env, names=names)
    credentials = None
    if not config.secret_manager_emulator_host:
        from rotation.adapters.credentials import application_default  # noqa: PLC0415

        credentials = application_default()
    return Runtime(config, credentials=credentials)


def _rotate(runtime: Runtime, *, force: bool, dry_run: bool, named_in: str) -> int:
    # The typed request the HTTP entry point would build: every managed secret, and DRY_RUN=true
    # cannot be turned off.
    config = runtime.config
    dependencies = runtime.dependencies()
    secrets = managed_secrets(config, dependencies.store)
    request = RotationRequest(
        secrets=secrets, force=force, dry_run=dry_run or config.dry_run, named_in=named_in
    )
    with redact.request_scope():
        try:
            outcome = service.run(dependencies, request)
        except Exception as error:  # noqa: BLE001 - as the HTTP entry point: type only, no text
            print(f"rotation: unexpected internal error ({type(error).__name__})", file=sys.stderr)
            return EXIT_FAILED
        answer = outcome.to_json()
        _print(answer)
    if force:
        _explain_unforced(answer["results"])
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _status(runtime: Runtime, *, as_json: bool) -> int:
    from rotation.service.status import describe, report  # noqa: PLC0415

    statuses = report(runtime.dependencies(), now=datetime.now(UTC))
    # Not ok: what the next run would fail with, or what needs a person anyway (a schedule too
    # sparse for the keys): deploy.sh's check after a deploy reads this exit status.
    ok = all(status.error is None and status.attention is None for status in statuses)
    if as_json:
        _print({"ok": ok, "secrets": [status.to_json() for status in statuses]})
    else:
        print("\n\n".join(describe(status) for status in statuses))
    return EXIT_OK if ok else EXIT_FAILED


def _seed(runtime: Runtime, source: Path, secret: str, *, refresh: bool) -> int:
    """Check the console download, add it as the secret's latest version, then refresh once.

    Persist first, as always: the download is stored before its refresh token is used, so a
    refresh that fails loses nothing. A spent token then fails here with the message ``rotate``
    gives, rather than at the next scheduled run.
    """
    if runtime.config.dry_run:
        raise ConfigError("DRY_RUN is set, and seed adds a version: unset DRY_RUN to seed")
    try:
        data = source.read_bytes()
    except OSError as error:
        raise ConfigError(f"--from {source}: cannot read it ({error.strerror})") from None
    try:
        check_document(data, now=datetime.now(UTC))
    except (TokenDocumentError, NotRefreshableError) as error:
        raise type(error)(f"--from {source}: {error.message}", code=error.code) from None
    version = runtime.store().add_version(secret, data)
    answer: dict[str, Any] = {
        "ok": True,
        "secret": secret,
        "version": version,
        "valid_until": epoch_to_rfc3339(parse_document(data).expires_at),
        "refresh": None,
    }
    if not refresh:
        _print(answer)
        print(
            f"rotation: stored {version}; its refresh token is untested. Test it now with: "
            f"python -m rotation rotate --force --secrets {secret}",
            file=sys.stderr,
        )
        return EXIT_OK
    with redact.request_scope():
        request = RotationRequest((secret,), force=True, dry_run=False, named_in="SECRET")
        [result] = service.run(runtime.dependencies(), request).results
        answer["refresh"] = result.to_json()
    answer["ok"] = not result.failed
    _print(answer)
    if result.failed:
        print(
            f"rotation: stored {version}, but refreshing it failed: {result.error_message}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _explain_unforced(results: list[dict[str, Any]]) -> None:
    # A forced run that skips is not an error (a burst of forced runs refreshes once), but the
    # operator asked for a refresh and deserves to hear why there was none.
    for result in results:
        if result["action"] == "skipped":
            print(
                f"rotation: --force did not refresh {result['secret']}: {result['reason']}",
                file=sys.stderr,
            )


def _print(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))


def _environment(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    """The function's environment with the flags applied, and what to call each flag's variable."""
    env = dict(os.environ)
    names: dict[str, str] = {}
    if args.command == "seed":
        secrets = args.secret
    elif args.command == "status":
        secrets = ",".join(args.names) or None  # none named: every managed secret
        if secrets is None:
            names["ROTATION_SECRETS"] = "ROTATION_SECRETS (or SECRET arguments to status)"
    else:
        secrets = args.secrets
    if secrets is not None:
        env["ROTATION_SECRETS"] = secrets
        names["ROTATION_SECRETS"] = "--secrets" if args.command == "rotate" else "SECRET"
        # Named on the command line: exactly those, not also every secret carrying the label.
        env.pop("ROTATION_LABEL", None)
    if args.project is not None:
        env["GOOGLE_CLOUD_PROJECT"] = args.project
    if args.project is not None or not (env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT")):
        names["GOOGLE_CLOUD_PROJECT"] = "--project"
    return env, names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rotation",
        description="Operate the Momento key rotation with the function's own code. Prints one "
        "JSON document on stdout; logs go to stderr.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rotate = commands.add_parser(
        "rotate", help="rotate the configured keys once, as the function would (the default)"
    )
    rotate.add_argument(
        "--secrets", help="comma-separated secret names (default: $ROTATION_SECRETS)"
    )
    rotate.add_argument(
        "--force",
        action="store_true",
        help="refresh even if not close to expiry (not within LEASE_DURATION of the last "
        "refresh: a burst of forced runs refreshes once)",
    )
    rotate.add_argument(
        "--dry-run", action="store_true", help="report what would be done, change nothing"
    )
    seed = commands.add_parser(
        "seed",
        help="check a token JSON from Momento's console and add it as the secret's new version",
    )
    seed.add_argument(
        "--from", dest="source", required=True, metavar="FILE", help="the console download"
    )
    seed.add_argument("secret", metavar="SECRET", help="projects/P/secrets/S, or S with --project")
    seed.add_argument(
        "--no-refresh",
        action="store_true",
        help="store the file only; by default it is refreshed once, which tests its refresh "
        "token (and spends it: the file can't be seeded again)",
    )
    status = commands.add_parser(
        "status", help="what the next run would do with each secret; changes nothing"
    )
    status.add_argument("names", nargs="*", metavar="SECRET", help="default: every managed secret")
    status.add_argument("--json", action="store_true", help="one JSON document (stable form)")
    for command in (rotate, seed, status):
        command.add_argument(
            "--project", help="resolves short names (default: $GOOGLE_CLOUD_PROJECT)"
        )
    return parser
