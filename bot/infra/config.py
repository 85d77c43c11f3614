"""Where the project's files are, and the error that stops start-up with one line: shared by the
settings and by every room that reads files under config/ and templates/."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


class ConfigError(Exception):
    """Start-up cannot go on; str() is the one line shown to the operator."""
