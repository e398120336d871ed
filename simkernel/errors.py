"""Errors raised by simkernel for user mistakes (bad command-line arguments or input files)."""


class ArgumentError(ValueError):
    """A nanoBragg-style argument (or the file it names) is invalid.

    ``flag`` is the offending flag as the user typed it (e.g. ``"-pixel"``); the message
    always names it and says what to do instead.
    """

    def __init__(self, flag: str, message: str):
        self.flag = flag
        super().__init__(f"{flag}: {message}")
