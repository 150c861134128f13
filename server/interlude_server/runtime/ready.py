"""The ready file: how a supervisor, a test or an init system learns the bound address."""

from __future__ import annotations

import os
from pathlib import Path


def write_ready_file(path: Path, content: str) -> None:
    """Write `content` to `path` atomically: readers see nothing or all of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content + "\n")
    os.replace(tmp, path)
