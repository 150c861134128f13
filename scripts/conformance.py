"""`make conformance SPEC_DIR=DIR`: schemathesis against the REST adapter with MEF's OpenAPI files.

Finds the MEF Interlude OpenAPI files of the APIs the adapter serves in DIR
(they are not part of this repository; see the README), starts a demo server
with the REST adapter on free ports, and runs `schemathesis run` for each file
with the API's base URL and the response checks in CHECKS (none suppressed).
Exits non-zero if any run fails, if a file of an API named with --apis is
missing, or if no file is found.

    .venv/bin/python scripts/conformance.py DIR [--apis inventory,ordering,sft,pm]
        [--max-time SECONDS] [--max-examples N] [--seed N]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# API name -> (base path, name fragments of its OpenAPI file: SDK and Kylie-folder spellings).
APIS = {
    "inventory": (
        "/mefApi/interlude/serviceInventory/v2",
        ("serviceInventoryManagement", "service-inventory-management"),
    ),
    "ordering": (
        "/mefApi/interlude/serviceOrderingManagement/v1",
        ("serviceOrderingManagement", "service-ordering-management"),
    ),
    "sft": (
        "/mefApi/interlude/serviceFunctionTesting/v3",
        ("serviceFunctionTest.api", "service-function-test-openapi"),
    ),
    "fm": (
        "/mefApi/interlude/faultManagement/v3",
        ("faultManagement.api", "fault-management-openapi"),
    ),
    "pm": (
        "/mefApi/interlude/performanceMonitoring/v5",
        ("performanceMonitoring.api", "performance-monitoring-openapi"),
    ),
    "alarm": (
        "/mefApi/interlude/alarmManagement/v3",
        ("alarmManagement.api", "alarm-management-openapi"),
    ),
}
# The response checks: every one that judges the server's answer against the file.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)
# Hypothesis health checks that judge the generator, not the server. `data_too_large`: MEF's
# serviceOrder schema is deep (items, relationships, characteristics), and on some seeds the
# fuzzer's first draws of POST /serviceOrder exceed Hypothesis's size budget; schemathesis
# then reports an error and tests nothing for that operation (seen in CI on 2026-12-07).
# Suppressed, the draws that fit are tested; every response check above stays on.
SUPPRESSED_HEALTH_CHECKS = "data_too_large"


def find_specs(spec_dir: Path, names: list[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(spec_dir.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        for name in names:
            fragments = APIS[name][1]
            if name not in found and any(f.lower() in path.name.lower() for f in fragments):
                found[name] = path
    return found


def parse_apis(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in APIS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--apis: choose from {', '.join(APIS)} (got {text!r})")
    return names


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
    parser.add_argument(
        "--apis",
        type=parse_apis,
        default=None,
        help="comma-separated subset of inventory,ordering,sft,pm; each named file must be "
        "present (default: every one found)",
    )
    parser.add_argument("--max-time", type=int, default=45, help="seconds per API")
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument(
        "--seed", type=int, default=None, help="schemathesis seed (a failed run prints its own)"
    )
    ns = parser.parse_args()
    specs = find_specs(ns.spec_dir.resolve(), ns.apis or list(APIS))  # absolute: schemathesis runs elsewhere
    missing = [name for name in ns.apis or () if name not in specs]
    if missing or not specs:
        print(
            f"no MEF OpenAPI file for {', '.join(missing or APIS)} in {ns.spec_dir}; see the README",
            file=sys.stderr,
        )
        return 2
    results = run_all(specs, ns.max_time, ns.max_examples, ns.seed)
    for name, code in results.items():
        print(f"conformance: {name} ({specs[name].name}): {'ok' if code == 0 else f'FAILED (exit {code})'}")
    return 1 if any(results.values()) else 0


def run_all(specs: dict[str, Path], max_time: int, max_examples: int, seed: int | None) -> dict[str, int]:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    results: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            for name, spec in specs.items():
                base = APIS[name][0]
                print(f"== {spec.name} against {url}{base}", flush=True)
                command = [
                    str(schemathesis), "run", str(spec), "--url", url + base, "--checks", CHECKS,
                    "--max-time", str(max_time), "--max-examples", str(max_examples),
                    "-H", "X-Interlude-Buyer: sp-alpha", "--no-color",
                    "--suppress-health-check", SUPPRESSED_HEALTH_CHECKS,
                    *(["--seed", str(seed)] if seed is not None else []),
                ]  # fmt: skip
                # Run in the temporary directory: schemathesis keeps a cache where it runs.
                results[name] = subprocess.run(command, check=False, cwd=tmp).returncode
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return results


if __name__ == "__main__":
    sys.exit(main())
