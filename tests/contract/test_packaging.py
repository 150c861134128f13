"""What a fresh machine installs and what the installed commands say about themselves.

`make install` installs requirements/lock.txt only, with every file's hash checked; these tests
prove the lock is complete and hashed, and that a hash that does not match stops `make install`
with pip's error (run against a local wheel, so no registry is needed).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from google.protobuf import __version__ as protobuf_version
from grpc import __version__ as grpcio_version

from tests.support.paths import REPO

pytestmark = pytest.mark.e2e  # it builds venvs and runs the installed commands

ROOT = REPO
LOCK = ROOT / "requirements" / "lock.txt"
BIN = Path(sys.executable).parent

_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def _locked() -> dict[str, list[str]]:
    """Each pinned requirement of the lock and the sha256 hashes listed for it."""
    pins: dict[str, list[str]] = {}
    name = ""
    for line in LOCK.read_text().splitlines():
        if match := _PIN.match(line):
            name = match.group(1).lower()
            pins[name] = []
        if name and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[name].append(digest.group(1))
    return pins


def test_every_locked_package_is_pinned_with_hashes() -> None:
    pins = _locked()
    for needed in ("grpcio", "protobuf", "structlog", "cryptography", "mypy", "pytest", "pip", "setuptools"):
        assert needed in pins, f"{needed} is not in {LOCK.name}"
    unhashed = [name for name, hashes in pins.items() if not hashes]
    assert not unhashed, f"pinned without a hash: {unhashed}"
    # Nothing points at this machine's own indexes or wheel folders.
    assert not re.search(r"^\s*--(extra-)?index-url|^\s*--find-links|file://", LOCK.read_text(), re.M)


def _wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal valid wheel of an empty distribution."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b'=').decode()},"
        f"{len(body.encode())}"
        for path, body in files.items()
    ]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, body in files.items():
            archive.writestr(member, body)
    return path


def test_make_install_stops_loudly_when_a_hash_does_not_match(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = _wheel(wheels, "interlude_lock_probe", "1.0")
    good = hashlib.sha256(wheel.read_bytes()).hexdigest()
    bad = hashlib.sha256(b"not the wheel").hexdigest()

    def make_install(digest: str) -> subprocess.CompletedProcess[str]:
        lock = tmp_path / f"lock-{digest[:8]}.txt"
        lock.write_text(
            f"--no-index\n--find-links {wheels}\ninterlude-lock-probe==1.0 --hash=sha256:{digest}\n"
        )
        venv = tmp_path / f"venv-{digest[:8]}"
        # The venv's install step alone: the lock given, the project's own install not reached.
        # Run under `make test-latest`, the parent make's LATEST=1 (no hashes) must not leak in.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "LATEST")}
        return subprocess.run(
            ["make", "-C", str(ROOT), f"VENV={venv}", f"LOCK={lock}", "LATEST=", f"{venv}/.installed"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    refused = make_install(bad)
    assert refused.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr + refused.stdout
    assert good in refused.stderr + refused.stdout  # pip names the hash it found
    assert not (tmp_path / f"venv-{bad[:8]}" / ".installed").exists()

    make_install(good)  # the control: the same file with its real hash is installed
    installed = list((tmp_path / f"venv-{good[:8]}").glob("lib/python*/site-packages/*.dist-info"))
    assert "interlude_lock_probe-1.0.dist-info" in {path.name for path in installed}


@pytest.mark.parametrize(
    ("command", "contract"),
    [
        ("interlude-server", "mef.lso.interlude.v1"),
        ("interlude-rest-gateway", "mef.lso.interlude.v1"),
        ("interlude-network-sim", "interlude.network.v1"),  # the southbound worker
    ],
)
def test_version_names_the_package_the_contract_and_the_grpc_runtime(command: str, contract: str) -> None:
    done = subprocess.run(
        [str(BIN / command), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.splitlines()
    assert re.fullmatch(rf"{command} \d+\.\d+\.\d+\S*", lines[0])
    assert lines[1] == f"contract {contract}"
    assert lines[2] == f"grpcio {grpcio_version}, protobuf {protobuf_version}"


def test_the_built_wheel_holds_every_module_and_the_server_starts_from_it(tmp_path: Path) -> None:
    # Built from a copy (setuptools writes build/ and *.egg-info beside the sources) and
    # unpacked to a folder put first on the path, so the imports below come from the wheel,
    # not from the editable checkout.
    source = tmp_path / "src"
    for part in ("pyproject.toml", "README.md", "interlude_grpc", "server", "clients/python"):
        target = source / part
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / part, target)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("interlude_grpc-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    in_checkout = {
        str(p.relative_to(ROOT / "server")) for p in (ROOT / "server" / "interlude_server").rglob("*.py")
    }
    in_wheel = {str(p.relative_to(site)) for p in (site / "interlude_server").rglob("*.py")}
    assert in_wheel == in_checkout
    assert (site / "interlude_server" / "seed" / "demo.json").is_file()
    # What reflection serves: the contract with its comments (scripts/gen_protos.py writes it).
    assert (site / "interlude_grpc" / "descriptor_set.py").is_file()
    probe = (
        "import interlude_server.runtime.main as m, interlude_server.runtime.gateway as g;"
        "print(m.__file__); print(g.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert all(line.startswith(str(site)) for line in done.stdout.splitlines())
    started = subprocess.run(
        [sys.executable, "-m", "interlude_server", "--version"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert started.stdout.startswith("interlude-server ")
