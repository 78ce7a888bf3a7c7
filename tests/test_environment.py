"""The pip lock and the conda environment pin the same packages at the same versions."""

import re
import tomllib

from shared.core.catalog import PROJECT_DIR


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.strip().lstrip("-").strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def lock():
    return _pins((PROJECT_DIR / "requirements.lock").read_text().splitlines())


def test_environment_yml_matches_the_lock():
    text = (PROJECT_DIR / "environment.yml").read_text()
    assert "python=3.11" in text
    assert _pins(text.splitlines()) == lock()


def test_every_dependency_is_pinned():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in wanted}
    assert names <= set(lock()), names - set(lock())


def test_lock_has_only_exact_pins():
    for line in (PROJECT_DIR / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, line
