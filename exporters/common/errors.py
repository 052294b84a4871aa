"""Errors raised by exporters."""


class ExportError(ValueError):
    """An export could not be made (design too big for the format, bad option...); nothing was written."""
