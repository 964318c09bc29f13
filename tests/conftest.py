"""Shared fixtures: the bundled samples and a way to run the CLI in-process or as a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A private copy of the five sample articles."""
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storyline.cli", *args], capture_output=True, text=True,
                          timeout=timeout)
