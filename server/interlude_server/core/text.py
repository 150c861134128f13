"""Text checks shared by every parser that turns user text into numbers."""

from __future__ import annotations


def is_decimal(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits, i.e. ``int(text)`` cannot fail.

    ``str.isdigit`` alone is not enough: it accepts superscripts and other
    Unicode digits ("²") that ``int`` rejects.
    """
    return text.isascii() and text.isdigit()
