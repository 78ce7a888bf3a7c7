"""``python -m shared.explain``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.serving.explain``.
"""

import sys

from shared.serving.explain import main

if __name__ == "__main__":
    sys.exit(main())
