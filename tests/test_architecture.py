"""The package's shape: wings in one order, imports pointing one way, short modules.

``shared/`` is grouped into wings (subpackages), lowest first in ``WINGS``. A module may
import its own wing and the wings before it, never a wing after it, so no two wings import
each other. Every import counts: at the top, inside a function (lazy), and for type checking
only. The modules left in ``shared/`` itself are entry points (the older names of documented
commands, kept as shims): nothing in a wing imports them. Production code imports no test
code.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import shared

PACKAGE = Path(shared.__file__).resolve().parent
#: the wings, lowest first: each may import itself and the wings before it
WINGS = ("core", "data", "model", "scale", "serving", "monitoring", "deploy", "run")
#: documented ``python -m shared.<command>`` forms, each a shim calling the command's main
SHIMS = ("runner", "predict", "serve", "monitor", "release", "explain", "live_replay",
         "prediction_log", "retrain")
#: what may stay in shared/ itself: the package, entry points, older command names
TOP_LEVEL = {"__init__", "__main__", "cli", "pipeline", *SHIMS}
#: the longest a module may be: a reader takes one in at a sitting
MAX_LINES = 400
TEST_CODE = {"tests", "conftest", "service_harness", "pytest"}


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative.with_suffix(".py")).is_file() or (
        PACKAGE.parent / relative / "__init__.py").is_file()


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path``, at any depth; ``from p import m`` of a
    submodule ``m`` counts as an import of ``p.m``."""
    found = []
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.append((node.lineno, name if is_module(name) else base))
    return found


def wing(name: str) -> str | None:
    """The wing of module ``name`` (``shared.core.catalog``: core); None outside any wing."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "shared" and parts[1] in WINGS else None


def wing_imports() -> list[tuple[str, int, str]]:
    """(importing file, line, imported module) for every import of this project's code."""
    return [(str(path.relative_to(PACKAGE.parent)), line, name)
            for path in source_files() for line, name in imported(path)
            if name.split(".")[0] == "shared"]


def test_every_module_sits_in_a_wing():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in TOP_LEVEL)
    assert not loose, (f"shared/{loose[0]}.py sits in no wing: move it into one of "
                       f"{', '.join(WINGS)} (a module's wing is decided by what it imports)")
    folders = sorted(p.name for p in PACKAGE.iterdir()
                     if p.is_dir() and (p / "__init__.py").is_file())
    assert set(folders) <= set(WINGS), f"an undeclared wing: {set(folders) - set(WINGS)}"
    assert folders and all((PACKAGE / w / "__init__.py").is_file() for w in WINGS)


def test_no_wing_imports_a_later_wing_or_a_command():
    wrong = []
    for where, line, name in wing_imports():
        importer = wing(f"shared.{where.split('/')[1]}") if where.count("/") > 1 else None
        target = wing(name)
        if importer is None or name == "shared":
            continue  # an entry point may import anything; the package itself is empty
        if target is None:
            wrong.append(f"{where}:{line} imports {name}, an entry point outside the wings")
        elif WINGS.index(target) > WINGS.index(importer):
            wrong.append(f"{where}:{line} imports {name}: {target} comes after {importer} "
                         f"({' < '.join(WINGS)})")
    assert not wrong, "\n".join(wrong)


def test_the_wings_import_each_other_in_no_cycle():
    edges: dict[str, set[str]] = {w: set() for w in WINGS}
    for where, _, name in wing_imports():
        importer, target = (wing(f"shared.{where.split('/')[1]}") if where.count("/") > 1
                            else None), wing(name)
        if importer and target and importer != target:
            edges[importer].add(target)
    state: dict[str, str] = {}

    def cycle_from(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return [*path, node, nxt][[*path, node].index(nxt):]
            if nxt not in state and (found := cycle_from(nxt, [*path, node])):
                return found
        state[node] = "done"
        return None

    for start in WINGS:
        if start not in state and (found := cycle_from(start, [])):
            raise AssertionError(f"the wings import each other: {' -> '.join(found)}")


def test_no_module_is_too_long():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in source_files()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"more than {MAX_LINES} lines: {long}; split by concern"


def test_production_code_imports_no_test_code():
    wrong = [f"{p.relative_to(PACKAGE.parent)}:{line} imports {name}"
             for p in source_files() for line, name in imported(p)
             if name.split(".")[0] in TEST_CODE]
    assert not wrong, "\n".join(wrong)


def test_each_wing_says_what_it_may_import():
    for index, name in enumerate(WINGS):
        doc = importlib.import_module(f"shared.{name}").__doc__ or ""
        said = re.search(r"May import: ([^.]*)\.", " ".join(doc.split()))
        assert said, f"shared/{name}/__init__.py: no 'May import: ...' sentence"
        allowed = [w.strip() for w in said.group(1).split(",")]
        assert allowed == (list(WINGS[:index]) or ["nothing"]), (name, allowed)


def test_old_command_names_are_tiny_shims():
    for command in SHIMS:
        path = PACKAGE / f"{command}.py"
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 12, path
        shim = importlib.import_module(f"shared.{command}")
        homes = [f"shared.{w}.{command}" for w in WINGS if (PACKAGE / w / f"{command}.py").is_file()]
        assert len(homes) == 1, (command, homes)
        assert shim.main is importlib.import_module(homes[0]).main


#: test modules in a wing's folder that test a guide or a flow of that wing, not one module
WING_TESTS_OF_NO_MODULE = {"model/test_adding_a_feature.py"}


def test_the_tests_mirror_the_wings():
    tests = PACKAGE.parent / "tests"
    assert sorted(p.name for p in tests.iterdir() if p.is_dir() and p.name in WINGS) == \
        sorted(WINGS)
    for test in sorted(tests.glob("*/test_*.py")):
        where = test.relative_to(tests).as_posix()
        if where in WING_TESTS_OF_NO_MODULE:
            continue
        module = PACKAGE / test.parent.name / f"{test.stem.removeprefix('test_')}.py"
        assert module.exists(), f"{where} tests no module of shared/{test.parent.name}/"
    # a test of one module sits in its module's wing, not at the top
    for test in sorted(tests.glob("test_*.py")):
        module = test.stem.removeprefix("test_")
        assert not list(PACKAGE.glob(f"*/{module}.py")), f"move {test.name} into its wing"


def test_only_the_run_history_imports_mlflow():
    """MLflow stays out of the runner, the kernels, the service, the batch command and the
    monitor: the run history's two modules import it inside the functions that need it, which
    run in the recorder process (and in ``python -m shared runs``)."""
    importers = sorted(str(path.relative_to(PACKAGE.parent)) for path in source_files()
                       if any(name.split(".")[0] == "mlflow" for _, name in imported(path)))
    assert importers == ["shared/run/recorder.py", "shared/run/tracking.py"]
    for module in importers:
        tree = ast.parse((PACKAGE.parent / module).read_text(encoding="utf-8"))
        top = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
        assert not any("mlflow" in ast.unparse(node) for node in top), module


def test_serving_commands_load_without_mlflow():
    import subprocess
    import sys

    modules = ("shared.serving.serve", "shared.serving.predict", "shared.monitoring.monitor",
               "shared.monitoring.watch", "shared.run.runner", "shared.run.notebook")
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            "assert 'mlflow' not in sys.modules, 'mlflow was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=PACKAGE.parent, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
