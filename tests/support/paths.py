"""Where the tests find the repository's own files, wherever the test module sits."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SUPPORT = Path(__file__).resolve().parent
