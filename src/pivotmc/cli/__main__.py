"""``python -m pivotmc.cli``: the ``pivotmc`` command."""

import sys

from pivotmc.cli import main

sys.exit(main())
