"""``./dev.sh serve``: the function under functions-framework on local emulators, for your own
requests.

Starts both emulators on fixed ports, seeds a demo secret whose key expires in a day (so the
first rotation really refreshes), and serves the function in the foreground, its log lines on
this terminal: the HTTP target ``rotate`` at http://127.0.0.1:8080/ and the CloudEvent target
``rotate_event`` at http://127.0.0.1:8083/. Prints the commands to try, copy-paste ready.
Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

from devtools.emulators.secret_manager import project_number
from devtools.local_stack import PROJECT, SECRET, SECRET_ID, Ports, local_stack

DEFAULT_PORTS = Ports(function=8080, secret_manager=8081, momento=8082, event_function=8083)
# Within LEASE_DURATION of a refresh, another rotation of the key (forced or scheduled) is
# skipped, so that a burst refreshes once. The default 5m would make the scheduled-rotation
# command below a skip right after the HTTP one; 10s (it must exceed 2 x STORE_DEADLINE +
# MOMENTO_TIMEOUT) lets a user try both in a row.
SERVE_TIMINGS = {"LEASE_DURATION": "10s", "STORE_DEADLINE": "3s", "MOMENTO_TIMEOUT": "3s"}
_CLOUD_EVENT_HEADERS = (
    "-H 'ce-specversion: 1.0' -H 'ce-id: 1' "
    "-H 'ce-type: google.cloud.pubsub.topic.v1.messagePublished' "
    f"-H 'ce-source: //pubsub.googleapis.com/projects/{PROJECT}/topics/momento-key-rotation'"
)


def commands(url: str, event_url: str, env: Mapping[str, str]) -> str:
    """What to type in another terminal, one command per line, each with a comment."""
    post = f"curl -s -X POST {url} -H 'Content-Type: application/json' -d"
    # As Secret Manager sends it: secretId names the project by number; publishTime is now.
    secret_by_number = f"projects/{project_number(PROJECT)}/secrets/{SECRET_ID}"
    message = (
        '{"message": {"attributes": {"eventType": "SECRET_ROTATE", '
        f'"secretId": "{secret_by_number}"}}, "messageId": "1", '
        '"publishTime": "\'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"\'"}}'
    )
    cli_env = " ".join(
        f"{name}={env[name]}"
        for name in (
            "SECRET_MANAGER_EMULATOR_HOST",
            "MOMENTO_CONTROL_ENDPOINT",
            "MOMENTO_CONTROL_INSECURE",
        )
    )
    return "\n".join(
        [
            "# what a rotation would do, changing nothing",
            f"{post} '{{\"dry_run\": true}}'",
            "# rotate: the key expires within REFRESH_BEFORE (3d), so it is refreshed",
            f"{post} '{{}}'",
            "# again: nothing to do now, so it is skipped",
            f"{post} '{{}}'",
            "# the operator CLI, against the same emulators (its JSON answer on stdout)",
            f"{cli_env} .venv/bin/python -m rotation --project {PROJECT} --secrets {SECRET_ID} "
            "--dry-run",
            "# a scheduled rotation: the SECRET_ROTATE event Eventarc delivers to rotate_event;",
            f"# refreshed whatever REFRESH_BEFORE says, {SERVE_TIMINGS['LEASE_DURATION']} after "
            "the last refresh (LEASE_DURATION here; 5m by default)",
            f"curl -s -X POST {event_url} -H 'Content-Type: application/json' "
            f"{_CLOUD_EVENT_HEADERS} -d '{message}'",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ports = Ports(
        function=args.port,
        secret_manager=args.secret_manager_port,
        momento=args.momento_port,
        event_function=args.event_port,
    )
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C (SIGINT) and a polite kill (SIGTERM) both end the wait below; the context
    # managers then stop the function and both emulators.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"starting the emulators and the function; seeding {SECRET}", flush=True)
    try:
        with local_stack(
            function_log=sys.stdout, ports=ports, extra_env=SERVE_TIMINGS, event_function=True
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
        return 1
    print("stopped", flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./dev.sh serve", description=__doc__)
    defaults = DEFAULT_PORTS
    parser.add_argument("--port", type=int, default=defaults.function, help="the function's")
    parser.add_argument("--secret-manager-port", type=int, default=defaults.secret_manager)
    parser.add_argument("--momento-port", type=int, default=defaults.momento)
    parser.add_argument(
        "--event-port", type=int, default=defaults.event_function, help="rotate_event's"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
