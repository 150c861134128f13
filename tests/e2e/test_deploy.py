"""deploy/: the systemd unit and its environment file are what the server accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from interlude_server.config import LAYERING, build_parser
from interlude_server.core.flag_layers import settable
from tests.e2e.grpc.test_config_sources import clean_env

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "interlude-server.service"
ENV_FILE = ROOT / "deploy" / "interlude.env"
COMMAND = "interlude-server"
HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "CapabilityBoundingSet=",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter=@system-service",
)


def _examples() -> list[tuple[str, str]]:
    """The variables of the env file, set or commented out as examples (`#INTERLUDE_<FLAG>=...`)."""
    found = re.findall(r"^#?(INTERLUDE_[A-Z0-9_]+)=(.*)$", ENV_FILE.read_text(), flags=re.MULTILINE)
    return [(name, value.strip()) for name, value in found]


def _unit_values(key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", UNIT.read_text(), flags=re.MULTILINE)


def test_env_file_examples_are_flags_and_together_a_valid_configuration() -> None:
    examples = _examples()
    names = [name for name, _ in examples]
    assert len(names) >= 10
    assert len(set(names)) == len(names), "each variable once, so that uncommenting all is one configuration"
    flags = {LAYERING.env_name(key) for key in settable(build_parser(), LAYERING)}
    assert sorted(set(names) - flags) == []
    result = subprocess.run(
        [sys.executable, "-m", "interlude_server.runtime.main", "--print-config"],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(**dict(examples)),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for name in names:
        assert f"  # env {name}" in result.stdout


def test_unit_starts_the_installed_command_with_the_env_file() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert COMMAND in scripts
    [exec_start] = _unit_values("ExecStart")
    assert Path(exec_start.split()[0]).name == COMMAND
    assert _unit_values("EnvironmentFile") == ["/etc/interlude/interlude.env"]
    text = UNIT.read_text()
    assert [option for option in HARDENING if f"\n{option}\n" not in text] == []


def test_unit_waits_longer_for_a_stop_than_the_server_drains() -> None:
    [timeout] = _unit_values("TimeoutStopSec")
    grace = next(a.default for a in build_parser()._actions if a.dest == "shutdown_grace")
    assert float(timeout) > grace


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (Debian: apt-get install systemd)")
    installed = shutil.which(COMMAND) or str(Path(sys.executable).parent / COMMAND)
    if not Path(installed).is_file():
        pytest.skip(f"{COMMAND} is not installed beside {sys.executable} (pip install -e .)")
    # verify checks that ExecStart is executable: point it at this checkout's installed command.
    unit = tmp_path / UNIT.name
    unit.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={installed}", UNIT.read_text(), flags=re.MULTILINE))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # Unknown or misspelled directives are only warnings: none may name the unit.
    assert [line for line in result.stderr.splitlines() if UNIT.name in line] == []
