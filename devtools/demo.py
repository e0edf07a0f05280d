"""The README's run command: a whole rotation on local emulators, shown before and after.

Starts the Secret Manager and Momento emulators and the function under functions-framework, all
as real processes; seeds a demo secret with a Momento key that expires in a day; triggers the
rotation over HTTP twice (the second run finds nothing to do); prints the versions and expiry
before and after. Nothing secret is printed.
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

import grpc
from google.cloud import secretmanager
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from devtools.processes import start_emulator, start_function, stopping

PROJECT = "demo-project"
SECRET = f"projects/{PROJECT}/secrets/momento-api-key"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rotation-demo-") as scratch:
        key_file = Path(scratch) / "momento-console-download.json"
        secret_manager, sm_address = start_emulator("devtools.emulators.secret_manager")
        momento, momento_address = start_emulator(
            "devtools.emulators.momento",
            "--seed-key-file",
            str(key_file),
            "--seed-lifetime",
            "30d",
            "--seed-expires-in",
            "1d",
        )
        with stopping(secret_manager, momento):
            client = secretmanager.SecretManagerServiceClient(
                transport=SecretManagerServiceGrpcTransport(
                    channel=grpc.insecure_channel(sm_address)
                )
            )
            seed(client, key_file.read_bytes())
            env = {
                "ROTATION_SECRETS": SECRET,
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "SECRET_MANAGER_EMULATOR_HOST": sm_address,
                "MOMENTO_CONTROL_ENDPOINT": momento_address,
                "MOMENTO_CONTROL_INSECURE": "true",
                # Short, so the demo shows the sweep: version 1 was superseded 2 s ago.
                "RETENTION": "1s",
            }
            log_path = Path(scratch) / "function.log"
            with log_path.open("w") as log:
                function, url = start_function(env, log=log)
                with stopping(function):
                    show("before", client)
                    first = trigger(url)
                    show("after", client)
                    second = trigger(url)
            client.transport.close()  # type: ignore[no-untyped-call]
            print("\nfunction log (structured, one JSON object per line):")
            for line in log_path.read_text().splitlines():
                if line.startswith("{"):
                    print("  " + line)
    return 0 if first and second else 1


def seed(client: Any, console_json: bytes) -> None:
    print(f"seeding {SECRET} with a Momento key that expires in 1 day")
    client.create_secret(
        request={
            "parent": f"projects/{PROJECT}",
            "secret_id": SECRET.rsplit("/", 1)[1],
            "secret": {"replication": {"automatic": {}}},
        }
    )
    previous = json.loads(console_json)
    previous["note"] = "an older version, superseded by version 2"
    client.add_secret_version(
        request={"parent": SECRET, "payload": {"data": json.dumps(previous).encode()}}
    )
    client.add_secret_version(request={"parent": SECRET, "payload": {"data": console_json}})
    time.sleep(2)  # version 1 is now superseded for longer than the demo's 1 s retention


def show(label: str, client: Any) -> None:
    print(f"\n== {label} ==")
    for version in client.list_secret_versions(request={"parent": SECRET}):
        number = version.name.rsplit("/", 1)[1]
        line = f"  version {number}: {version.state.name:<9} created {version.create_time:%H:%M:%S}"
        if version.state.name == "ENABLED":
            payload = client.access_secret_version(name=version.name).payload.data
            valid_until = int(json.loads(payload)["validUntil"])
            expiry = datetime.fromtimestamp(valid_until, UTC)
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
