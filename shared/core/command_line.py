"""The argument parser every command starts from, under its one-entry-point name.

A command's ``--help`` names the form ``python -m shared <command>`` (``shared.cli`` runs it)
and ends with worked examples. The commands import this module, never the entry point.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Sequence
from pathlib import Path

from shared.core.catalog import PROJECT_DIR


def parser(command: str, description: str, examples: Sequence[str]) -> argparse.ArgumentParser:
    """The argument parser of ``command``: its ``--help`` names the one-entry-point form and
    ends with worked examples."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    return argparse.ArgumentParser(
        prog=f"python -m shared {command}", description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_task_and_root(parser: argparse.ArgumentParser, tasks: Collection[str],
                      holds: str = "models/<task>/", task: str = "sentiment") -> None:
    """The two options most commands share: ``--task`` (one of ``tasks``, ``task`` by
    default) and ``--root``, the folder that holds ``holds`` (the project by default)."""
    parser.add_argument("--task", default=task, choices=sorted(tasks))
    parser.add_argument("--root", type=Path, default=PROJECT_DIR,
                        help=f"folder that holds {holds} (default: the project)")
