"""``python -m shared.predict``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.serving.predict``.
"""

import sys

from shared.serving.predict import main

if __name__ == "__main__":
    sys.exit(main())
