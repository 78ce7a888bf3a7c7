"""``python -m shared.live_replay``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.deploy.live_replay``.
"""

import sys

from shared.deploy.live_replay import main

if __name__ == "__main__":
    sys.exit(main())
