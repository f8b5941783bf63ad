"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class VfiError(Exception):
    """An error caused by the user's input (a file, an argument), with a message naming it."""
