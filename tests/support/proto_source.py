"""The contract's .proto sources (proto/), read as text: what a reflected file should say."""

from __future__ import annotations

from tests.support.paths import REPO

PROTO = REPO / "proto"


def leading_comment(proto_file: str, declaration: str) -> list[str]:
    """The `//` lines right above the line starting with `declaration` in proto/`proto_file`,
    without their slashes (e.g. "service ServiceInventoryService" in mef/lso/interlude/v1/inventory.proto).
    """
    lines = (PROTO / proto_file).read_text().splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.strip().startswith(declaration)]
    comment: list[str] = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("//"):
            break
        comment.insert(0, line.strip().removeprefix("//").strip())
    assert comment, f"no comment above {declaration!r} in {proto_file}"
    return comment
