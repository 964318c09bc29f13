"""The command line: every command is registered and answers --help."""

from __future__ import annotations

from typer.testing import CliRunner

from storyline.cli import app


def test_every_command_is_registered() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "watch", "batch", "serve", "eval"):
        assert command in result.output


def test_run_without_inputs_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["run", "--out", "x"])
    assert result.exit_code == 2
