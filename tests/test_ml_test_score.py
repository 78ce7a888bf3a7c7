"""docs/ml_test_score.md: 28 rows, every cited test exists, the scores are the points' sums."""

from __future__ import annotations

import ast
import re

from shared.core.catalog import PROJECT_DIR

TABLE = PROJECT_DIR / "docs" / "ml_test_score.md"
SECTIONS = {"D": "Data", "M": "Model", "I": "Infrastructure", "N": "Monitoring"}


def _rows() -> list[list[str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[DMIN]\d", cells[0]):
            rows.append(cells)
    return rows


def _tests_in(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_seven_tests_per_section_each_with_a_point_of_0_or_1():
    rows = _rows()
    assert [row[0] for row in rows] == [f"{s}{i}" for s in SECTIONS for i in range(1, 8)]
    assert {row[3] for row in rows} <= {"0", "1"}


def test_every_cited_test_exists():
    missing = []
    for number, *_, cited in _rows():
        references = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", cited)
        assert references, f"{number} cites no test"
        for path, name in references:
            if not (PROJECT_DIR / path).is_file() or name not in _tests_in(PROJECT_DIR / path):
                missing.append(f"{number}: {path}::{name}")
    assert not missing, "the table cites tests that do not exist: " + ", ".join(missing)


def test_the_scores_are_the_sums_of_the_points():
    rows = _rows()
    sums = {name: sum(int(r[3]) for r in rows if r[0][0] == key)
            for key, name in SECTIONS.items()}
    text = TABLE.read_text(encoding="utf-8")
    for name, total in sums.items():
        assert f"| {name} | {total} |" in text, name
    assert f"| **ML Test Score (the lowest)** | **{min(sums.values())}** |" in text
