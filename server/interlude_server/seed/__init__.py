"""Seed data: the catalog, per-buyer policies and an initial inventory, loaded at start-up.

`load_seed(store, "demo")` loads the packaged demo (demo.json); any other source
is the path of a file in the same format (docs/seed-format.md).
"""

from interlude_server.seed.loader import (
    DEMO,
    FORMAT,
    SeedError,
    SeedProblem,
    SeedSummary,
    load_seed,
)

__all__ = ["DEMO", "FORMAT", "SeedError", "SeedProblem", "SeedSummary", "load_seed"]
