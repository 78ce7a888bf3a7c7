"""``python -m shared.runner``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.run.runner``.
"""

import sys

from shared.run.runner import main

if __name__ == "__main__":
    sys.exit(main())
