"""The commit of the code that wrote a generated report (RESULTS.md, TIMING.md), for its header."""

from __future__ import annotations

import subprocess
from pathlib import Path


def source_commit() -> str:
    """The short git hash of this package's checkout, or "unknown" outside a git checkout (or without git)."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
