"""``python -m shared <command>``: the one entry point (the commands are in ``shared.cli``)."""

import sys

from shared.cli import main

sys.exit(main())
