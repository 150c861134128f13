"""JSON Pointers (RFC 6901) over plain JSON documents: read, write and diff."""

from __future__ import annotations

from typing import Any

from interlude_server.core.text import is_decimal

_MISSING = object()


def split(pointer: str) -> list[str]:
    """The reference tokens of a pointer; "" is the whole document."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON Pointer must start with '/': {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def join(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


# The tokens of the pointers `get` was asked for (they come from policies and the code: a
# small set, bounded all the same): most orders read the same few pointers many times.
_TOKENS: dict[str, tuple[str, ...]] = {}
_TOKENS_MAX = 4096


def _tokens(pointer: str) -> tuple[str, ...]:
    tokens = _TOKENS.get(pointer)
    if tokens is None:
        tokens = tuple(split(pointer))
        if len(_TOKENS) < _TOKENS_MAX:
            _TOKENS[pointer] = tokens
    return tokens


def get(doc: Any, pointer: str, default: Any = None) -> Any:
    """The value at `pointer`, or `default` when any step is missing."""
    node = doc
    for token in _tokens(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and is_decimal(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            return default
    return node


def put(doc: dict[str, Any], pointer: str, value: Any) -> None:
    """Set the value at `pointer`, creating objects along the way."""
    tokens = split(pointer)
    if not tokens:
        raise ValueError("cannot replace the whole document")
    node: Any = doc
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node.setdefault(token, {})
    last = tokens[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def changed_leaves(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Pointers of every leaf that differs between two documents (added, removed or changed),
    in key order. Equal subtrees are passed over whole (one comparison, in C), so a change of a
    few leaves costs a walk down to those leaves only."""
    out: list[str] = []
    if old != new:
        _diff(old, new, prefix, out)
    return out


def _diff(old: Any, new: Any, prefix: str, out: list[str]) -> None:
    """Append to `out` the changed leaves of `old` and `new`, which differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a != b:  # _MISSING differs from everything: a key on one side only
                _diff(a, b, prefix + join([key]), out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                _diff(a, b, f"{prefix}/{index}", out)
    else:
        out.append(prefix)


def covers(rule_pointer: str, pointer: str) -> bool:
    """Whether `rule_pointer` is `pointer` or one of its ancestors."""
    return pointer == rule_pointer or pointer.startswith(rule_pointer + "/")
