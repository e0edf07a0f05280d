"""``python -m devtools.emulators.secret_manager``: serve until SIGINT/SIGTERM (see cli.py)."""

import sys

from devtools.emulators.secret_manager.cli import main

if __name__ == "__main__":
    sys.exit(main())
