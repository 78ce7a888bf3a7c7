"""``python -m shared.prediction_log``: an older form of the command, kept so that scripts calling it work.

The command is ``shared.serving.prediction_log``.
"""

import sys

from shared.serving.prediction_log import main

if __name__ == "__main__":
    sys.exit(main())
