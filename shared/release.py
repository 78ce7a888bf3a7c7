"""``python -m shared.release``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.deploy.release``.
"""

import sys

from shared.deploy.release import main

if __name__ == "__main__":
    sys.exit(main())
