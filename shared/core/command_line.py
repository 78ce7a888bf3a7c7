"""The argument parser every command starts from, under its one-entry-point name.

A command's ``--help`` names the form ``python -m shared <command>`` (``shared.cli`` runs it)
and ends with worked examples. The commands import this module, never the entry point.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def parser(command: str, description: str, examples: Sequence[str]) -> argparse.ArgumentParser:
    """The argument parser of ``command``: its ``--help`` names the one-entry-point form and
    ends with worked examples."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    return argparse.ArgumentParser(
        prog=f"python -m shared {command}", description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
