"""Errors for user mistakes: they carry a message that says what to fix."""


class AAMInputError(ValueError):
    """Input data or parameters that cannot be used as given."""
