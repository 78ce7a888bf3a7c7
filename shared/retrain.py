"""``python -m shared.retrain``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.run.retrain``.
"""

import sys

from shared.run.retrain import main

if __name__ == "__main__":
    sys.exit(main())
