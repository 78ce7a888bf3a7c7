"""``python -m shared.pipeline``: the runner's older name, kept so that existing commands work.

The runner is ``shared.run.runner`` ("pipeline" elsewhere in this project means a
scikit-learn ``Pipeline``).
"""

import sys

from shared.run.runner import main

if __name__ == "__main__":
    sys.exit(main())
