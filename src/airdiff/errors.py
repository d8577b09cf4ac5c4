"""Exception and warning classes.

Every error airdiff raises on purpose derives from :class:`AirdiffError` and also
from the matching built-in exception, so callers can catch either. Messages say
what happened *and* what to do about it; the CLI prints them as one line.
"""

from __future__ import annotations


class AirdiffError(Exception):
    """Root of every error raised on purpose by airdiff."""


class InputError(AirdiffError, ValueError):
    """An input (file, option, array) cannot be used as given."""


class InputFileError(InputError, OSError):
    """A path is missing, unreadable, or not a raster."""


class NoOverlapError(InputError):
    """The two scenes do not cover a common area."""


class OutputError(AirdiffError, OSError):
    """An output cannot be written (folder missing, read-only, ...)."""


class AlignmentError(AirdiffError, RuntimeError):
    """The scenes cannot be aligned, or the alignment cannot be trusted."""


class AirdiffWarning(UserWarning):
    """Root of airdiff's warnings."""


class LowConfidenceWarning(AirdiffWarning):
    """A result was produced, but its confidence is below the usual level."""
