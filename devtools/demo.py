"""The README's run command: a whole rotation on local emulators, shown before and after.

Starts the Secret Manager and Momento emulators and the function under functions-framework, all
as real processes (see :mod:`devtools.local_stack`); seeds a demo secret with a Momento key that
expires in a day; triggers the rotation over HTTP twice (the second run finds nothing to do);
prints the versions and expiry before and after, saying in one line why each thing it shows
happens. Nothing secret is printed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools.local_stack import PROJECT, SECRET, local_stack
from rotation.token import parse_document

# The function's default is 7d. The demo's version 1 was superseded two seconds ago, so a
# one-second retention lets the demo show the sweep disabling it.
DEMO_RETENTION = "1s"


def main() -> int:
    print(
        f"seeding {SECRET} with two versions: 1, an older copy of the token JSON (so the sweep "
        "has something to disable), and 2, the current one, with a Momento key that expires "
        "in 1 day"
    )
    with tempfile.TemporaryDirectory(prefix="rotation-demo-") as scratch:
        log_path = Path(scratch) / "function.log"
        with (
            log_path.open("w") as log,
            local_stack(
                function_log=log, extra_env={"RETENTION": DEMO_RETENTION}, older_version=True
            ) as stack,
        ):
            time.sleep(2)  # version 1 is now superseded for longer than the demo's retention
            print(
                f"the function runs with RETENTION={DEMO_RETENTION} (the default is 7d), so "
                "version 1, superseded 2 s ago, is swept in this run"
            )
            show("before", stack.client)
            first = trigger(stack.url)
            print(
                f"  (versions are named by project number, as Secret Manager returns them; "
                f"{PROJECT!r} is the project's id: the same project)"
            )
            show("after", stack.client)
            second = trigger(stack.url)
        print("\nfunction log (structured, one JSON object per line):")
        for line in log_path.read_text().splitlines():
            if line.startswith("{"):
                print("  " + line)
    return 0 if first and second else 1


def show(label: str, client: Any) -> None:
    print(f"\n== {label} ==")
    for version in client.list_secret_versions(request={"parent": SECRET}):
        number = version.name.rsplit("/", 1)[1]
        created = f"{version.create_time:%Y-%m-%d %H:%M:%S} UTC"
        line = f"  version {number}: {version.state.name:<9} created {created}"
        if version.state.name == "ENABLED":
            payload = client.access_secret_version(name=version.name).payload.data
            # The key's own expiry (its JWT exp), the one Momento enforces.
            expires_at = parse_document(payload).expires_at
            if expires_at is not None:
                expiry = datetime.fromtimestamp(expires_at, UTC)
                line += f"  key expires {expiry:%Y-%m-%d %H:%M} UTC"
        print(line)


def trigger(url: str) -> bool:
    print(f"\nPOST {url}")
    request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 URL)
        url, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (our own http URL)
            status, body = response.status, json.load(response)
    except urllib.error.HTTPError as error:
        status, body = error.code, json.load(error)
    print(f"  -> {status}")
    for result in body.get("results", []):
        print(f"  {result['action']}: {result['reason']}")
        if result["disabled_versions"]:
            print(f"  disabled: {', '.join(result['disabled_versions'])}")
        if result["error"]:
            print(f"  error {result['error']['code']}: {result['error']['message']}")
    return bool(status == 200)


if __name__ == "__main__":
    sys.exit(main())
