"""After the grid: the settings tried at each family's best configuration only, and grids that
are not cut off.

Two follow-ups of stage 4's search, each scoring a few new configurations on the search's
own folds and fitted feature blocks (``SearchResult.features``), so their scores compare
with the grid's as they are:

- :func:`try_at_best`: a family's ``local_grids`` (on the full budget, the feature groups of
  a few dense columns) are switched at its best configuration, one parameter at a time,
  instead of crossing every vectorizer setting;
- :func:`extend_edges`: when a family's best value of a regularisation parameter (``C``,
  ``alpha``) is the grid's largest or smallest, the grid is extended on that side, at the
  grid's own ratio between its last two values, one value at a time from the best
  configuration, until a new value scores no better (the best is then inside the extended
  grid), scores better only within the noise of the fold scores (their paired differences'
  standard error: on a few hundred texts a value can win every step by one text a fold,
  which is no reason to go on, nor to adopt it: the value is reported and dropped, and the
  best stays where the evidence put it), or after ``MAX_EXTENSIONS`` values;
- :func:`complete_ablation`: a best found that way has no configuration differing from it in
  one feature setting alone, which stage 4's ablation compares it with; those are scored for
  the families a selection rule could choose.

The new configurations join the search's table as rows of the last round, with new config
ids and their out-of-fold scores, so choosing, the ablation and the saved results see them as
any other. ``SearchResult.extensions`` says what was tried and why, one row per family and
parameter; stage 4 shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shared.core.problem import ProblemSpec
from shared.model import search
from shared.model.models import Candidate, describe_params

#: the parameters whose grids are extended past an edge: a classifier's regularisation, on
#: a log scale (``clf__C``, ``clf__estimator__C``, ``clf__alpha``)
EXTENDED = ("C", "alpha")
#: at most this many values are added past an edge, per family and parameter
MAX_EXTENSIONS = 3
EXTENSION_COLUMNS = ["model", "parameter", "grid", "best before", "tried", "best", "outcome"]


def refine(
    result: search.SearchResult, candidates: Sequence[Candidate], labels: Sequence[str],
    spec: ProblemSpec, budget: str, n_jobs: int = -1,
) -> search.SearchResult:
    """The search's result with the rows of :func:`try_at_best`, :func:`extend_edges` and
    :func:`complete_ablation` added, in that order (each starts from the best so far), and
    the first two's report in ``extensions``; its kept feature blocks are released."""
    if result.features is None:
        raise ValueError("the search kept no feature blocks: run it with keep_features=True")
    labels = np.asarray(labels)
    by_name = {c.name: c for c in candidates}
    local = try_at_best(result, by_name, labels, spec, budget, n_jobs)
    edges = extend_edges(result, by_name, labels, spec, budget, n_jobs)
    complete_ablation(result, by_name, labels, spec, budget, n_jobs)
    result.extensions = pd.DataFrame(local + edges, columns=EXTENSION_COLUMNS)
    result.features = None  # the blocks of every fold: free them once nothing more is scored
    return result


def try_at_best(
    result: search.SearchResult, candidates: dict[str, Candidate], labels: np.ndarray,
    spec: ProblemSpec, budget: str, n_jobs: int = -1,
) -> list[dict[str, Any]]:
    """Each family's ``local_grids[budget]`` parameter set to each of its other values at the
    family's best configuration, one parameter after the other (the next one starting from
    the best so far); the rows are added to ``result``. Returns a report row per family and
    parameter."""
    report = []
    keys = sorted({key for c in candidates.values() for key in c.local_grids.get(budget, {})})
    for key in keys:
        tries, best_rows = [], {}
        for name, row in _best_rows(result).items():
            values = candidates[name].local_grids.get(budget, {}).get(key) if name in candidates \
                else None
            if not values:
                continue
            best_rows[name] = row
            current = describe_params({key: row["raw_params"].get(key, values[0])})
            tries += [(name, {**row["raw_params"], key: value}) for value in values
                      if describe_params({key: value}) != current]
        added = _score(result, [(candidates[n], p) for n, p in tries], labels, spec, n_jobs)
        after = _best_rows(result)
        for name, row in best_rows.items():
            values = candidates[name].local_grids[budget][key]
            tried = [describe_params({key: p[key]}) for n, p in tries if n == name]
            kept = after[name]["config"] in added and after[name]["config"] != row["config"]
            report.append({
                "model": name, "parameter": key,
                "grid": ", ".join(describe_params({key: v}) for v in values),
                "best before": describe_params({key: row["raw_params"].get(key, values[0])}),
                "tried": ", ".join(tried),
                "best": describe_params({key: after[name]["raw_params"].get(key, values[0])}),
                "outcome": ("tried at the best configuration: better, kept" if kept else
                            "tried at the best configuration: no better"),
            })
    return report


def extend_edges(
    result: search.SearchResult, candidates: dict[str, Candidate], labels: np.ndarray,
    spec: ProblemSpec, budget: str, n_jobs: int = -1,
) -> list[dict[str, Any]]:
    """Extend each family's regularisation grid past the edge its best value sits on.

    All families step together (one scoring call per step, their fits in parallel); a
    family stops when its new value scores no better than its best, or better only within
    the fold noise (:func:`_paired_gain`; the new value is then dropped from ``result``, and
    the report says why), or after ``MAX_EXTENSIONS`` values. The rows are added
    to ``result``. Returns a report row per family and extended parameter, including those
    whose best was inside the grid.
    """
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for name, row in _best_rows(result).items():
        grid = candidates[name].grids.get(budget, {}) if name in candidates else {}
        for key, values in grid.items():
            numeric = sorted(v for v in values if isinstance(v, int | float)
                             and not isinstance(v, bool) and v > 0)
            if key.rsplit("__", 1)[-1] not in EXTENDED or len(numeric) < 2:
                continue
            best = row["raw_params"][key]
            side = "above" if best == numeric[-1] else "below" if best == numeric[0] else None
            ratio = (numeric[-1] / numeric[-2]) if side == "above" else (numeric[0] / numeric[1])
            state[(name, key)] = {"grid": numeric, "before": best, "side": side, "ratio": ratio,
                                  "row": row, "tried": [], "outcome": None}
    for entry in state.values():
        if entry["side"] is None:
            entry["outcome"] = "inside the grid"
    for _ in range(MAX_EXTENSIONS):
        active = [(name, key) for (name, key), e in state.items() if e["outcome"] is None]
        if not active:
            break
        tries = []
        for name, key in active:
            entry = state[(name, key)]
            value = float(f"{entry['row']['raw_params'][key] * entry['ratio']:.3g}")
            entry["tried"].append(value)
            tries.append((candidates[name], {**entry["row"]["raw_params"], key: value}))
        added = _score(result, tries, labels, spec, n_jobs)
        for (name, key), config in zip(active, added, strict=True):
            entry = state[(name, key)]
            new = result.table[result.table["config"] == config].iloc[-1]
            gain, noise = _paired_gain(new["fold_scores"], entry["row"]["fold_scores"])
            if gain > noise:
                entry["row"] = new
            elif gain > 0:  # a higher mean, but within the folds' noise: not adopted
                entry["outcome"] = (f"{entry['side']} the grid: {new['raw_params'][key]:g} "
                                    f"scored higher by {gain:.2g}, within the fold noise "
                                    f"({noise:.2g}); {entry['row']['raw_params'][key]:g} kept")
                _drop(result, config)
            else:
                entry["outcome"] = (f"{entry['side']} the grid: extended until a value "
                                    "scored no better; the best is inside")
    report = []
    for (name, key), entry in state.items():
        if entry["outcome"] is None:
            entry["outcome"] = (f"{entry['side']} the grid: still improving after "
                                f"{MAX_EXTENSIONS} extensions (the limit); the best is at "
                                "the extended edge")
        best = entry["row"]["raw_params"][key]
        report.append({
            "model": name, "parameter": key, "grid": ", ".join(f"{v:g}" for v in entry["grid"]),
            "best before": f"{entry['before']:g}",
            "tried": ", ".join(f"{v:g}" for v in entry["tried"]),
            "best": f"{best:g}", "outcome": entry["outcome"],
        })
    return report


def complete_ablation(
    result: search.SearchResult, candidates: dict[str, Candidate], labels: np.ndarray,
    spec: ProblemSpec, budget: str, n_jobs: int = -1, passes: int | None = None,
) -> None:
    """Score the feature neighbours of the families a selection rule could choose, where
    the search has not: each ``features__`` setting of the family's best configuration
    changed alone (``shared.model.training.feature_ablation`` compares the chosen configuration with
    exactly these). A best found past the grid's edge, or at a local setting, has none yet.

    The families are those whose best mean is within one standard error of the top family's
    (``training.choose``'s rules take the top one or the simplest of these). On the full
    budget, where each neighbour costs a fit on thousands of texts per fold (about 4.5 s of
    CPU for NB-SVM on rt-polarity), only the feature groups' neighbours are scored
    (``features__char``, ``features__lexicon``: whether each group earns its place), not the
    word vectorizer's settings. A neighbour that scores higher becomes its family's best, so
    up to ``passes`` rounds are run: by default two on the quick budget, one on the full
    budget (a winning neighbour there keeps the ablation rows it has).
    """
    passes = passes if passes is not None else (2 if budget == "quick" else 1)
    for _ in range(passes):
        best = _best_rows(result)
        top = max(best.values(), key=lambda row: row["mean"])
        margin = top["std"] / np.sqrt(spec.cv_folds)
        have = set(zip(result.final()["model"], result.final()["params"], strict=True))
        tries = []
        for name, row in best.items():
            if row["mean"] < top["mean"] - margin or name not in candidates:
                continue
            candidate = candidates[name]
            grid = {**candidate.grids.get(budget, {}), **candidate.local_grids.get(budget, {})}
            for key, values in grid.items():
                if not key.startswith("features__") or (
                        budget != "quick" and key.count("__") > 1):
                    continue  # on the full budget, the groups only (not the word settings)
                for value in values:
                    params = {**row["raw_params"], key: value}
                    if key not in candidate.grids.get(budget, {}) and value is values[0]:
                        del params[key]  # a local setting off: as the grid's rows, unnamed
                    shown = describe_params(params)
                    if (name, shown) not in have:
                        have.add((name, shown))
                        tries.append((candidate, params))
        if not tries:
            return
        _score(result, tries, labels, spec, n_jobs)


def _drop(result: search.SearchResult, config: int) -> None:
    """Remove configuration ``config``'s rows and out-of-fold scores from ``result``: a value
    past the edge that won only within the noise is reported, not left where choosing by
    the highest mean would take it."""
    rows = result.table.index[result.table["config"] == config]
    result.table = result.table.drop(rows)
    for row in rows:
        result.oof.pop(row, None)


def _paired_gain(new: Sequence[float], best: Sequence[float]) -> tuple[float, float]:
    """The mean gain of ``new``'s fold scores over ``best``'s on the same folds, and its
    standard error: a gain within it is the folds' noise, not a better setting."""
    difference = np.subtract(new, best)
    noise = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 \
        else 0.0
    return float(difference.mean()), noise


def _best_rows(result: search.SearchResult) -> dict[str, pd.Series]:
    """Each family's best row among those scored on every text (ties: the earlier row)."""
    final = result.final()
    order = final.sort_values("mean", ascending=False, kind="stable")
    return {name: rows.iloc[0] for name, rows in order.groupby("model", sort=False)}


def _score(
    result: search.SearchResult, tries: list[tuple[Candidate, dict[str, Any]]],
    labels: np.ndarray, spec: ProblemSpec, n_jobs: int,
) -> list[int]:
    """Score the configurations on the search's folds and blocks; append their rows (last
    round, new config ids) and out-of-fold scores to ``result``. Returns their config ids."""
    if not tries:
        return []
    configs = [search.Configuration(candidate, params) for candidate, params in tries]
    rows, oofs = search.cross_validate(configs, [], labels, spec, n_jobs,
                                       features=result.features)
    table = result.table
    last = table["round"].max()
    texts = int(table["texts"].max())
    first_id = int(table["config"].max()) + 1
    ids = list(range(first_id, first_id + len(configs)))
    start = len(table) if table.index.empty else int(table.index.max()) + 1
    new = pd.DataFrame([{**row, "config": i, "round": last, "texts": texts}
                        for row, i in zip(rows, ids, strict=True)],
                       index=range(start, start + len(rows)))[table.columns]
    result.table = pd.concat([table, new])
    result.oof.update(zip(new.index, oofs, strict=True))
    return ids
