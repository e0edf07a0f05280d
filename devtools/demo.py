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

from devtools.local_stack import PROJECT, REGION, REGIONAL_SECRET, SECRET, local_stack
from devtools.pubsub_emulator import PubSubUnavailableError, pubsub_emulator
from momento_key_common.token import parse_document

# The function's default is 7d. The demo's version 1 was superseded two seconds ago, so a
# one-second retention lets the demo show the sweep disabling it.
DEMO_RETENTION = "1s"
# Within LEASE_DURATION (default 5m) of a refresh, another rotation of the same key, forced or
# scheduled, is skipped: a burst refreshes once. Short here, so that the scheduled rotation can
# follow the first one; it must exceed 2 x STORE_DEADLINE + MOMENTO_TIMEOUT.
DEMO_TIMINGS = {"LEASE_DURATION": "7s", "STORE_DEADLINE": "2s", "MOMENTO_TIMEOUT": "2s"}
TOPIC = "momento-key-rotation"


def main(argv: list[str] | None = None) -> int:
    regional = "--regional" in (sys.argv[1:] if argv is None else argv)
    print(
        f"seeding {SECRET} with two versions: 1, an older copy of the token JSON (so the sweep "
        "has something to disable), and 2, the current one, with a Momento key that expires "
        "in 1 day"
    )
    if regional:
        print(
            f"and {REGIONAL_SECRET}: a regional secret with the same id, a different secret "
            f"(its data stays in {REGION}; only that location's endpoint serves it)"
        )
    with tempfile.TemporaryDirectory(prefix="rotation-demo-") as scratch:
        log_path = Path(scratch) / "function.log"
        with (
            log_path.open("w") as log,
            local_stack(
                function_log=log,
                extra_env={"RETENTION": DEMO_RETENTION, **DEMO_TIMINGS},
                older_version=True,
                event_function=True,
                regional_secret=regional,
            ) as stack,
        ):
            time.sleep(2)  # version 1 is now superseded for longer than the demo's retention
            print(
                f"the function runs with RETENTION={DEMO_RETENTION} (the default is 7d), so "
                "version 1, superseded 2 s ago, is swept in this run"
            )
            show("before", stack.client)
            first = trigger(stack.url)
            refreshed_at = time.monotonic()
            print(
                f"  (versions are named by project number, as Secret Manager returns them; "
                f"{PROJECT!r} is the project's id: the same project)"
            )
            show("after", stack.client)
            if regional:
                show("after, the regional secret", stack.client, REGIONAL_SECRET)
            second = trigger(stack.url)
            scheduled = scheduled_rotation(stack.client, stack.event_url, refreshed_at)
        print("\nfunction log (structured, one JSON object per line):")
        for line in log_path.read_text().splitlines():
            if line.startswith("{"):
                print("  " + line)
    return 0 if first and second and scheduled else 1


def scheduled_rotation(client: Any, event_url: str | None, refreshed_at: float) -> bool:
    """SECRET_ROTATE through the Pub/Sub emulator to rotate_event, as a rotation schedule does."""
    print(
        "\n== a scheduled rotation: SECRET_ROTATE through the Pub/Sub emulator ==\n"
        "Secret Manager publishes SECRET_ROTATE to the secret's topic when its rotation schedule\n"
        "comes due (deploy.sh --rotation-period); Eventarc delivers it to rotate_event, which\n"
        "refreshes the key whatever REFRESH_BEFORE says: the owner asked for it."
    )
    before = len(list(client.list_secret_versions(request={"parent": SECRET})))
    try:
        with pubsub_emulator(PROJECT) as pubsub:
            pubsub.create_topic(TOPIC)
            pubsub.push_to(TOPIC, f"{TOPIC}-push", str(event_url))
            lease = float(DEMO_TIMINGS["LEASE_DURATION"].rstrip("s"))
            wait = refreshed_at + lease - time.monotonic()
            if wait > 0:
                print(
                    f"  waiting {wait:.0f} s: the demo's LEASE_DURATION is "
                    f"{DEMO_TIMINGS['LEASE_DURATION']} (default 5m), and within it of the last "
                    "refresh a rotation is skipped, so that a burst refreshes once"
                )
                time.sleep(wait)
            # As Secret Manager names it in the message: with the project number.
            pubsub.publish_rotate(TOPIC, client.get_secret(name=SECRET).name)
            print(f"  published SECRET_ROTATE on projects/{PROJECT}/topics/{TOPIC}")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if len(list(client.list_secret_versions(request={"parent": SECRET}))) > before:
                    break
                time.sleep(0.2)
            else:
                print("  no new version within 60 s; see the function log below")
                return False
    except PubSubUnavailableError as error:
        print(f"  not shown: {error}")
        return True
    time.sleep(1)  # let the sweep that follows the refresh finish before showing
    show("after the scheduled rotation", client)
    return True


def show(label: str, client: Any, secret: str = SECRET) -> None:
    print(f"\n== {label} ==")
    for version in client.list_secret_versions(request={"parent": secret}):
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
    results = body.get("results", [])
    for result in results:
        # With --regional, two secrets share an id: say which, when there is more than one.
        which = f"{result['secret']}: " if len(results) > 1 else ""
        print(f"  {which}{result['action']}: {result['reason']}")
        if result["disabled_versions"]:
            print(f"  disabled: {', '.join(result['disabled_versions'])}")
        if result["error"]:
            print(f"  error {result['error']['code']}: {result['error']['message']}")
    return bool(status == 200)


if __name__ == "__main__":
    sys.exit(main())
