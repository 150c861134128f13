"""`make conformance SPEC_DIR=DIR`: schemathesis against the REST adapter with MEF's OpenAPI files.

Finds the MEF Interlude OpenAPI files of the APIs the adapter serves in DIR
(they are not part of this repository; see the README), starts a demo server
with the REST adapter on free ports, and runs `schemathesis run` for each file
with the API's base URL. Exits non-zero if any run fails or no file is found.

    .venv/bin/python scripts/conformance.py DIR [--max-examples N]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# API base path -> name fragments of its OpenAPI file (SDK and api-evangelist spellings).
APIS = {
    "/mefApi/interlude/serviceInventory/v2": ("serviceInventoryManagement", "service-inventory-management"),
    "/mefApi/interlude/serviceOrderingManagement/v1": (
        "serviceOrderingManagement",
        "service-ordering-management",
    ),
    "/mefApi/interlude/serviceFunctionTesting/v3": (
        "serviceFunctionTest.api",
        "service-function-test-openapi",
    ),
}


def find_specs(spec_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(spec_dir.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        for base, fragments in APIS.items():
            if base not in found and any(f.lower() in path.name.lower() for f in fragments):
                found[base] = path
    return found


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = workdir / "ready"
    command = [
        sys.executable, "-m", "interlude_server.runtime.main", "--grpc-listen", "127.0.0.1:0",
        "--rest-listen", "127.0.0.1:0", "--db", f"sqlite:///{workdir / 'conformance.db'}",
        "--seed", "demo", "--sim-step-delay", "0.05", "--ready-file", str(ready), "--log-format", "json",
    ]  # fmt: skip
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((workdir / "server.log").read_text())
        time.sleep(0.05)
    rest = ready.read_text().split()[1].removeprefix("rest=")
    return proc, f"http://{rest}"


def main() -> int:
    parser = argparse.ArgumentParser(description="schemathesis against the MEF REST adapter")
    parser.add_argument("spec_dir", type=Path)
    parser.add_argument("--max-examples", type=int, default=50)
    ns = parser.parse_args()
    specs = find_specs(ns.spec_dir)
    if not specs:
        print(
            f"no MEF inventory/ordering/testing OpenAPI files in {ns.spec_dir}; see the README",
            file=sys.stderr,
        )
        return 2
    schemathesis = Path(sys.executable).with_name("schemathesis")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            for base, spec in specs.items():
                print(f"== {spec.name} against {url}{base}", flush=True)
                command = [
                    str(schemathesis), "run", str(spec), "--url", url + base,
                    "--max-examples", str(ns.max_examples), "-H", "X-Interlude-Buyer: sp-alpha",
                ]  # fmt: skip
                # Run in the temporary directory: schemathesis keeps a cache where it runs.
                failed += subprocess.run(command, check=False, cwd=tmp).returncode != 0
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
