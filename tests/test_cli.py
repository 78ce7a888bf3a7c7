"""`python -m shared <command>`: the one entry point lists every command and runs each."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from shared import cli


def test_every_command_module_has_a_main_that_the_table_reaches():
    for name, command in cli.COMMANDS.items():
        module = importlib.import_module(command.module)
        assert callable(getattr(module, "main", None)), name


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_command_help_names_the_entry_point_and_gives_an_example(name, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([name, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: python -m shared {name}")
    assert "examples:" in shown and f"python -m shared {name}" in shown.split("examples:")[1]


def test_top_level_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    shown = capsys.readouterr().out
    for name, command in cli.COMMANDS.items():
        assert f"  {name}" in shown and command.summary in shown


def test_no_command_or_an_unknown_one_exits_2_and_names_the_choices(capsys):
    assert cli.main([]) == 2
    assert cli.main(["trian"]) == 2
    error = capsys.readouterr().err
    assert "unknown command 'trian'" in error and "run" in error


def test_the_module_form_runs_as_typed():
    shown = subprocess.run([sys.executable, "-m", "shared", "--help"], capture_output=True,
                           text=True, check=True).stdout
    assert "python -m shared <command>" in shown


def test_the_older_module_forms_still_run():
    shown = subprocess.run([sys.executable, "-m", "shared.release", "--help"],
                           capture_output=True, text=True, check=True).stdout
    assert "rollback" in shown
