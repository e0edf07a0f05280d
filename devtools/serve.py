"""./dev.sh serve: the function under functions-framework on local emulators, for your own
requests.

Starts both emulators on fixed ports and seeds two demo secrets: momento-api-key, whose key
expires in a day (so the first HTTP rotation really refreshes it), and
momento-api-key-scheduled, whose key expires in 30 days (so HTTP rotations skip it, and the
SECRET_ROTATE event refreshes it). Serves the function in the foreground, its log lines on this
terminal: the HTTP target rotate at http://127.0.0.1:8080/ and the CloudEvent target
rotate_event at http://127.0.0.1:8083/. Prints the commands to try, copy-paste ready. Ctrl-C
stops everything.
"""

# The docstring is also --help's description, so it holds no reST markup: argparse shows it as is.

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

from devtools.emulators.secret_manager import project_number
from devtools.local_stack import (
    PROJECT,
    REGIONAL_SECRET,
    SCHEDULED_SECRET,
    SCHEDULED_SECRET_ID,
    SECRET,
    SECRET_ID,
    Ports,
    local_stack,
)
from devtools.processes import port_is_free

DEFAULT_PORTS = Ports(function=8080, secret_manager=8081, momento=8082, event_function=8083)
# Within LEASE_DURATION of a refresh, another rotation of the key (forced or scheduled) is
# skipped, so that a burst refreshes once. The printed commands refresh each demo secret once,
# so the default 5m would not change their outcome; 10s (it must exceed 2 x STORE_DEADLINE +
# MOMENTO_TIMEOUT) lets a user send the event again and see a second refresh soon after.
SERVE_TIMINGS = {"LEASE_DURATION": "10s", "STORE_DEADLINE": "3s", "MOMENTO_TIMEOUT": "3s"}
_CLOUD_EVENT_HEADERS = (
    "-H 'ce-specversion: 1.0' -H 'ce-id: 1' "
    "-H 'ce-type: google.cloud.pubsub.topic.v1.messagePublished' "
    f"-H 'ce-source: //pubsub.googleapis.com/projects/{PROJECT}/topics/momento-key-rotation'"
)
# The CLI reaches the same emulators through these, as the function does.
_CLI_VARIABLES = (
    "SECRET_MANAGER_EMULATOR_HOST",
    "MOMENTO_CONTROL_ENDPOINT",
    "MOMENTO_CONTROL_INSECURE",
)


def commands(url: str, event_url: str, env: Mapping[str, str]) -> str:
    """What to type in another terminal, one command per line, each with a comment."""
    post = f"curl -s -X POST {url} -H 'Content-Type: application/json' -d"
    # As Secret Manager sends it: secretId names the project by number; publishTime is now.
    secret_by_number = f"projects/{project_number(PROJECT)}/secrets/{SCHEDULED_SECRET_ID}"
    message = (
        '{"message": {"attributes": {"eventType": "SECRET_ROTATE", '
        f'"secretId": "{secret_by_number}"}}, "messageId": "1", '
        '"publishTime": "\'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"\'"}}'
    )
    cli = (
        " ".join(f"{name}={env[name]}" for name in _CLI_VARIABLES) + " .venv/bin/python -m rotation"
    )
    lease = SERVE_TIMINGS["LEASE_DURATION"]
    return "\n".join(
        [
            "# what a rotation would do, changing nothing",
            f"{post} '{{\"dry_run\": true}}'",
            f"# rotate: {SECRET_ID} expires within REFRESH_BEFORE (3d), so it is refreshed;",
            f"# {SCHEDULED_SECRET_ID} expires in 30d, so it is skipped",
            f"{post} '{{}}'",
            "# again: nothing to do now, so both are skipped",
            f"{post} '{{}}'",
            "# the operator CLI, against the same emulators (its JSON answer on stdout)",
            f"{cli} --project {PROJECT} --secrets {SECRET_ID} --dry-run",
            "# a scheduled rotation: the SECRET_ROTATE event Eventarc delivers to rotate_event,",
            f"# for {SCHEDULED_SECRET_ID}; refreshed whatever REFRESH_BEFORE says (skipped only",
            f"# within LEASE_DURATION of its last refresh: {lease} here, 5m by default). The curl",
            "# prints only OK; the outcome is the rotation.result line in serve's terminal, and",
            "# the status command below",
            f"curl -s -X POST {event_url} -H 'Content-Type: application/json' "
            f"{_CLOUD_EVENT_HEADERS} -d '{message}'",
            "# its status: latest_version is now the version the event stored, versions/2",
            f"{cli} status {SCHEDULED_SECRET_ID} --project {PROJECT} --json",
        ]
    )


# Each port: the option that sets it, its field in Ports, and what listens there.
PORT_OPTIONS = (
    ("--port", "function", "the function's HTTP target rotate"),
    ("--event-port", "event_function", "the function's CloudEvent target rotate_event"),
    ("--secret-manager-port", "secret_manager", "the Secret Manager emulator"),
    ("--momento-port", "momento", "the Momento emulator"),
)


def busy_ports(ports: Ports) -> list[str]:
    """One line per port that something else holds, naming the option that moves it."""
    return [
        f"port {port} ({what}) is in use; stop what listens there, or pick another with {option} N"
        for option, field, what in PORT_OPTIONS
        if (port := getattr(ports, field)) and not port_is_free(port)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ports = Ports(
        function=args.port,
        secret_manager=args.secret_manager_port,
        momento=args.momento_port,
        event_function=args.event_port,
    )
    # Checked before anything starts, so the message names the option rather than whichever
    # process failed to listen.
    busy = busy_ports(ports)
    if busy:
        for line in busy:
            print(f"serve: {line}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C (SIGINT) and a polite kill (SIGTERM) both end the wait below; the context
    # managers then stop the function and both emulators.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    seeded = [SECRET, SCHEDULED_SECRET, *([REGIONAL_SECRET] if args.regional else [])]
    print(
        f"starting the emulators and the function; seeding {', '.join(seeded)}",
        flush=True,
    )
    try:
        with local_stack(
            function_log=sys.stdout,
            ports=ports,
            extra_env=SERVE_TIMINGS,
            event_function=True,
            scheduled_secret=True,
            regional_secret=args.regional,
        ) as stack:
            print(
                f"\nthe function is serving at {stack.url} (rotate_event at {stack.event_url}) "
                f"(Secret Manager emulator {stack.env['SECRET_MANAGER_EMULATOR_HOST']}, "
                f"Momento emulator {stack.env['MOMENTO_CONTROL_ENDPOINT']})\n"
                "try, in another terminal:\n\n"
                f"{commands(stack.url, str(stack.event_url), stack.env)}\n\n"
                "its log lines appear below; press Ctrl-C to stop everything\n",
                flush=True,
            )
            while not stop.wait(0.5):
                pass
    except RuntimeError as error:
        print(f"serve: {error}", file=sys.stderr)
        # A port taken while we started: say which option moves it (ours are closed by now).
        for line in busy_ports(ports):
            print(f"serve: {line}", file=sys.stderr)
        return 1
    print("stopped", flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./dev.sh serve", description=__doc__)
    for option, field, what in PORT_OPTIONS:
        parser.add_argument(
            option,
            type=int,
            default=getattr(DEFAULT_PORTS, field),
            metavar="N",
            help=f"the port of {what} (default %(default)s)",
        )
    parser.add_argument(
        "--regional",
        action="store_true",
        help=f"also seed and manage a regional secret, {REGIONAL_SECRET} (a different secret "
        "from the global one of the same id), with a key that expires in a day",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
