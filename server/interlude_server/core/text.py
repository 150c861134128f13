"""Text checks shared by every layer: numbers parsed from user text, text a request may carry
but the server cannot keep (lone surrogates, non-finite numbers), and text an error echoes
back (bounded, so a 6,000-character id cannot blow up an error trailer)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

# A code point in U+D800..U+DFFF. A JSON string may spell one (`"\ud800"`); Python keeps it
# in a str, but it is not a Unicode scalar value: UTF-8, protobuf and SQLite all refuse it.
# A valid pair (`"\ud83d\ude00"`) is decoded by json into one character, so never matches.
_SURROGATE = re.compile("[\ud800-\udfff]")
SHORT = 128  # characters of an echoed value kept in an error
_LONG_RUN = re.compile(rf"\S{{{SHORT + 2},}}")

NOT_FINITE = "must be a finite number (NaN, Infinity and numbers beyond the double range are refused)"
SURROGATE = "must be valid Unicode: a lone surrogate (e.g. \\ud800) is refused"


def is_decimal(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits, i.e. ``int(text)`` cannot fail.

    ``str.isdigit`` alone is not enough: it accepts superscripts and other
    Unicode digits ("²") that ``int`` rejects.
    """
    return text.isascii() and text.isdigit()


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate code point (cannot be encoded as UTF-8)."""
    return _SURROGATE.search(text) is not None


def shorten(text: str, limit: int = SHORT) -> str:
    """``text``, or its first ``limit`` characters, an ellipsis and the original length."""
    if len(text) <= limit + 1:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def shorten_runs(text: str) -> str:
    """``text`` with every run of more than ``SHORT + 1`` non-space characters shortened: a
    message keeps its words while an id or value quoted in it is cut. Idempotent: a shortened
    run is ``SHORT`` characters and an ellipsis, then a space."""
    if len(text) <= SHORT + 1:
        return text
    return _LONG_RUN.sub(lambda m: shorten(m.group()), text)


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_problems(doc: Any) -> Iterator[tuple[str, str]]:
    """(JSON Pointer, problem) for every non-finite number and every string or property name
    holding a lone surrogate in the parsed JSON ``doc``, in document order. Iterative, so a
    document as deep as the parser allows cannot exhaust the stack here."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            yield path or "/", NOT_FINITE
        elif isinstance(value, str) and has_surrogate(value):
            yield path or "/", SURROGATE
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                token = _SURROGATE.sub("\ufffd", _pointer_token(key))
                if has_surrogate(key):
                    yield f"{path}/{token}", "the property name " + SURROGATE
                children.append((f"{path}/{token}", item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}/{i}", item) for i, item in enumerate(value)]))
