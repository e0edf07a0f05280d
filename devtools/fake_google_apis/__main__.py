"""``python -m devtools.fake_google_apis``: serve the fake until killed.

What it prints and what ``--record`` and ``--served-locations`` do: the package docstring.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

import devtools.fake_google_apis as package
from devtools.fake_google_apis.secret_manager import DEFAULT_SERVED_LOCATIONS
from devtools.fake_google_apis.server import FakeGoogleApis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.fake_google_apis",
        description=(package.__doc__ or "").split("\n\n", 1)[0],
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--record", type=Path, help="append every request to this JSONL file")
    parser.add_argument(
        "--served-locations",
        help="comma-separated locations Secret Manager serves (default: "
        + ",".join(sorted(DEFAULT_SERVED_LOCATIONS))
        + ")",
    )
    args = parser.parse_args(argv)
    served = None
    if args.served_locations is not None:
        served = frozenset(filter(None, (x.strip() for x in args.served_locations.split(","))))
    fake = FakeGoogleApis(record_path=args.record, served_locations=served)
    # Terminated, it still removes its certificate folder (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fake.start(args.host, args.port)
    print(f"fake google apis listening on {fake.base_url.removeprefix('http://')}", flush=True)
    trust = f"regional endpoints: trust {fake.ca_file} (CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE)"
    print(trust, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
