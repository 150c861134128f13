"""Where the tests find the repository's own files, wherever the test module sits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
EXAMPLES = REPO / "examples"  # the input files the README shows the CLI and server with
SUPPORT = Path(__file__).resolve().parent
# MEF's and TMF's published files, beside the checkout (CI has them there too); another place
# with INTERLUDE_REFERENCE_DIR.
REFERENCE = Path(os.environ.get("INTERLUDE_REFERENCE_DIR", REPO.parent / "shared" / "reference"))
MEF_SERVICE_SCHEMAS = REFERENCE / "mef" / "legato-sdk" / "serviceSchema"

# Tests of MEF's own files: skipped, saying where they looked, on a checkout without them.
needs_reference = pytest.mark.skipif(
    not MEF_SERVICE_SCHEMAS.is_dir(),
    reason=f"MEF's published files are not at {REFERENCE} (set INTERLUDE_REFERENCE_DIR)",
)
