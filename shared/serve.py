"""``python -m shared.serve``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.serving.serve``.
"""

import sys

from shared.serving.serve import main

if __name__ == "__main__":
    sys.exit(main())
