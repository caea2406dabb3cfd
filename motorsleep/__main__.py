"""``python -m motorsleep ...``: the ``motorsleep`` command without the console script installed."""

import sys

from motorsleep.cli import main

sys.exit(main())
