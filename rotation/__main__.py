"""``python -m rotation``: see :mod:`rotation.cli`."""

import sys

from rotation.cli import main

sys.exit(main())
