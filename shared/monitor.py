"""``python -m shared.monitor``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.monitoring.monitor``.
"""

import sys

from shared.monitoring.monitor import main

if __name__ == "__main__":
    sys.exit(main())
