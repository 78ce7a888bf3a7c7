"""Display settings every notebook starts with, so that re-runs print exactly the same."""

from __future__ import annotations

import matplotlib
import pandas as pd
import seaborn as sns
import sklearn


def setup() -> None:
    """Plain-text estimator reprs, PNG figures, rounded tables, one seaborn theme.

    sklearn's HTML repr embeds counters and version links that change between
    runs, and SVG figures embed a date, so both would break nbval's comparison.
    """
    sklearn.set_config(display="text")
    matplotlib.rcParams.update({"figure.dpi": 80, "svg.hashsalt": "ml-workflow"})
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_colwidth", 90)
    pd.set_option("display.width", 120)
    sns.set_theme(style="whitegrid", context="notebook")
