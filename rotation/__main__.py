"""``python -m rotation``: see :mod:`rotation.faces.cli`."""

import sys

from rotation.faces.cli import main

sys.exit(main())
