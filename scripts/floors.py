"""Print the oldest supported set: each runtime dependency of pyproject.toml pinned at its lower
bound, plus the test runner the suite needs and the installer (pip, setuptools). `make lock`
compiles it, with hashes, into requirements/oldest.txt, and `make test-oldest` runs the suite
on it, so a floor that pyproject.toml states is a floor that was tested.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

# The test runner (not product dependencies): the versions of the main lock are fine here.
TEST_TOOLS = ("pytest", "pytest-asyncio", "pytest-timeout", "hypothesis")


def floors(pyproject: Path) -> list[str]:
    """`name[extras]==floor` for every runtime dependency; a dependency without a floor is an error."""
    pinned = []
    for requirement in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([^,;\s]+)", requirement)
        if match is None:
            raise SystemExit(f"floors: {requirement!r} has no single '>=' lower bound")
        pinned.append(f"{match.group(1)}=={match.group(2)}")
    return pinned


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    lock = (root / "requirements/lock.txt").read_text()
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, re.M))
    tools = [f"{name}=={locked[name]}" for name in TEST_TOOLS]
    installer = [  # pip and the build backend, as in the main lock (requirements/tools.in)
        line.strip()
        for line in (root / "requirements/tools.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sys.stdout.write("\n".join([*floors(root / "pyproject.toml"), *tools, *installer]) + "\n")


if __name__ == "__main__":
    main()
