"""``python3 -m rotation.faces.check``: the function's own validators, for tools that run before it.

deploy.sh calls this so that it refuses exactly what the function would refuse at start, with
the function's own messages, before it creates anything: one validator, not two.

    python3 -m rotation.faces.check config           # validate the function's environment variables
    python3 -m rotation.faces.check document FILE    # validate a token document before seeding it

Exit 0 when valid, 2 with one line ``rotation: MESSAGE`` on stderr when not. A valid
configuration may still print one warning line on stderr (exit 0): a write budget too small to
refresh every listed secret within ``FUNCTION_TIMEOUT``. Only the standard
library and this package's pure modules are imported, so any Python 3.11+ can run it without the
function's dependencies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from momento_key_common.errors import ErrorCode, RotationError, TokenDocumentError
from momento_key_common.token import REFRESH_TOKEN_FIELD, parse_document
from rotation.rules.config import load_config
from rotation.rules.policy import budget_warning, decide

EXIT_OK, EXIT_INVALID = 0, 2
_USAGE = "usage: python3 -m rotation.faces.check config | document FILE"


def check_document(data: bytes, *, now: datetime) -> None:
    """Refuse a document the function could not rotate: malformed, v2, without a refresh
    token, or already expired."""
    document = parse_document(data)
    if not document.refresh_token:
        raise TokenDocumentError(
            f"the document has no {REFRESH_TOKEN_FIELD}, so its key could never be refreshed; "
            "use the JSON Momento's console downloads, which includes it",
            code=ErrorCode.REFRESH_TOKEN_MISSING,
        )
    # decide() raises for an expired key; the window only matters for the answer we ignore.
    decide(document, now=now, refresh_before=timedelta(0), force=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args == ["config"]:
            config = load_config(os.environ)
            warning = budget_warning(config, len(config.secrets))
            if warning is not None:
                print(warning, file=sys.stderr)
        elif len(args) == 2 and args[0] == "document":
            path = Path(args[1])
            try:
                data = path.read_bytes()
            except OSError as error:
                raise RotationError(f"{args[1]}: cannot read it ({error.strerror})") from None
            check_document(data, now=datetime.now(UTC))
        else:
            print(_USAGE, file=sys.stderr)
            return EXIT_INVALID
    except RotationError as error:
        print(f"rotation: {error.message}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
