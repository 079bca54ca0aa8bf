"""The project's error types. An AvvaeError is bad input from the user: a file, folder, option or config value at
fault, with a message that names it and says what to do. A command (avvae.cli.run_main) ends on one with its
message on one line and exit status 1; any other exception is a bug and keeps its traceback.

Each part of the package has its own subclass (ConfigError, DataDirError, AudioFileError, ModelFileError, ...); the
two here are for what none of them covers. AvvaeError is a ValueError, so code that catches ValueError still
catches them."""

from __future__ import annotations


class AvvaeError(ValueError):
    """Bad input from the user, with a message that names the file, option or value at fault."""


class UsageError(AvvaeError):
    """Command-line options that are missing, malformed or do not go together."""


class InputFileError(AvvaeError):
    """A file or folder that a command reads is missing or malformed, and no more specific error covers it (scores,
    stage times, notes, NMF dictionaries, a recipe folder, a stage's outputs)."""
