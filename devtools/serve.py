"""``./dev.sh serve``: the function under functions-framework on local emulators, for your own
requests.

Starts both emulators on fixed ports, seeds a demo secret whose key expires in a day (so the
first rotation really refreshes), and serves the function at http://127.0.0.1:8080/ in the
foreground, its log lines on this terminal. Prints the commands to try, copy-paste ready. Ctrl-C
stops everything.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

from devtools.local_stack import PROJECT, SECRET, SECRET_ID, Ports, local_stack

DEFAULT_PORTS = Ports(function=8080, secret_manager=8081, momento=8082)


def commands(url: str, env: Mapping[str, str]) -> str:
    """What to type in another terminal, one command per line, each with a comment."""
    post = f"curl -s -X POST {url} -H 'Content-Type: application/json' -d"
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
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ports = Ports(
        function=args.port, secret_manager=args.secret_manager_port, momento=args.momento_port
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
        with local_stack(function_log=sys.stdout, ports=ports) as stack:
            print(
                f"\nthe function is serving at {stack.url} "
                f"(Secret Manager emulator {stack.env['SECRET_MANAGER_EMULATOR_HOST']}, "
                f"Momento emulator {stack.env['MOMENTO_CONTROL_ENDPOINT']})\n"
                "try, in another terminal:\n\n"
                f"{commands(stack.url, stack.env)}\n\n"
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
    return parser


if __name__ == "__main__":
    sys.exit(main())
