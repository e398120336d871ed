"""One error type for everything the user can fix, mapped to an exit code by the CLI."""

from __future__ import annotations


class BisectorError(Exception):
    """A failure with a message that names what was wrong and what to do.

    The CLI prints ``message`` (and ``hint`` when given) without a traceback and exits
    with ``exit_code``. Commands that speak git bisect's language use 128 so that a
    broken harness aborts the bisection instead of blaming a commit.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(BisectorError):
    """The configuration (file or flags) is invalid; names the key and what is allowed."""


class GitError(BisectorError):
    """A git command failed or the repository is not in a usable state."""


class ReferenceFailure(BisectorError):
    """The reference (C program or simkernel) could not produce its image.

    Exit 4 from `run`: the harness, not a commit, stopped the hunt (`score` maps it to 128).
    """

    exit_code = 4


class EndpointError(BisectorError):
    """The good endpoint is not good or the bad endpoint is not bad; carries the evidence."""
