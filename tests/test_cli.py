"""The `interlude` client command is a skeleton until F8: it says so, and fails."""

from __future__ import annotations

import pytest

from interlude_client import cli


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("interlude ")


def test_every_command_says_not_implemented_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    for command in cli.COMMANDS:
        assert cli.main(["--target", "127.0.0.1:1", command]) == 2
        assert f"interlude {command}: not implemented yet (F8)" in capsys.readouterr().err
