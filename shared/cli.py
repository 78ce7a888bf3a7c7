"""The one entry point: its table of commands, and the dispatch to each command's ``main``.

``python -m shared <command> [options]`` looks the command up in :data:`COMMANDS` and calls
its module's ``main`` with the remaining arguments. Modules are imported only when their
command runs, so ``python -m shared serve`` never loads the notebook runner and
``python -m shared --help`` loads nothing but this table. The older forms
``python -m shared.runner``, ``python -m shared.predict``, ``python -m shared.serve`` ... keep
working: they call the same ``main``.
The parser every command starts from is ``shared.core.command_line.parser``: a command does not
import the entry point that dispatches to it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A command of ``python -m shared``: the module whose ``main`` runs it, and what it does."""

    module: str
    summary: str


#: every command, in the order the README's table and ``--help`` list them
COMMANDS: dict[str, Command] = {
    "run": Command("shared.run.runner", "run the seven notebooks in order (the whole workflow)"),
    "runs": Command("shared.run.history", "list the newest runs of a task from the run history "
                    "(MLflow; 'make ui' opens it in a browser)"),
    "predict": Command("shared.serving.predict", "score a CSV or Parquet file with the deployed model"),
    "serve": Command("shared.serving.serve", "serve the deployed model over HTTP (127.0.0.1 by default)"),
    "monitor": Command("shared.monitoring.monitor", "check the logged predictions for drift; exit 1 on "
                       "alert ('monitor watch': on a schedule, alerts sent to a person)"),
    "release": Command("shared.deploy.release", "list the kept releases, or roll back to one"),
    "retrain": Command("shared.run.retrain", "retrain on the data plus labelled feedback; release "
                       "only a challenger not worse than the live model"),
    "explain": Command("shared.serving.explain", "show the terms behind one prediction"),
    "replay": Command("shared.deploy.live_replay", "replay logged traffic through kept releases"),
    "log": Command("shared.serving.prediction_log", "maintain the prediction log (purge old texts)"),
}


def usage() -> str:
    """The top-level help: every command with its summary."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    return ("usage: python -m shared <command> [options]\n\ncommands:\n" + "\n".join(lines)
            + "\n\n'python -m shared <command> --help' shows a command's options and examples.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 2 with the list of commands when none or an unknown one
    is given."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"python -m shared: unknown command {name!r}; choose one of: "
              f"{', '.join(COMMANDS)}.\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name].module)
    return int(module.main(rest) or 0)
