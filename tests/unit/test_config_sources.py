"""Settings of `interlude-server` from flags, INTERLUDE_* variables and a --config TOML file:
the three forms mean the same, a flag wins over the environment over the file over the
default, and bad input is a usage error (exit 2) naming the variable or the file and key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from interlude_server.config import LAYERING, build_parser, parse_args, parse_listen
from interlude_server.core.flag_layers import parse_layered, render, settable

ROOT = Path(__file__).resolve().parents[2]

# One of each kind of flag: values of several types, a choice, a repeatable flag, a
# store_true switch, a --[no-] flag and a flag defined in limits.py.
SETTINGS: list[tuple[str, str | list[str] | bool, str]] = [
    ("rest-listen", "127.0.0.1:8080", "127.0.0.1:8080"),
    ("grpc-listen", "[::1]:50055", "[::1]:50055"),
    ("log-level", "debug", "debug"),
    ("auth", "none", "none"),
    ("workers", "3", "3"),
    ("event-retention-hours", "2.5", "2.5"),
    ("hub-callback-allow", ["hooks.example.com", "10.0.0.0/8"], "hooks.example.com,10.0.0.0/8"),
    ("shared-store", True, "true"),
    ("keepalive-permit-without-calls", False, "false"),
    ("max-inflight-rpcs", "77", "77"),
    ("default-buyer", "sp-beta", "sp-beta"),
]


def _as_flags(db: str) -> list[str]:
    argv = ["--db", db]
    for key, value, _ in SETTINGS:
        if isinstance(value, list):
            for item in value:
                argv += [f"--{key}", item]
        elif value is True:
            argv.append(f"--{key}")
        elif value is False:
            argv.append(f"--no-{key}")
        else:
            argv += [f"--{key}", value]
    return argv


def _as_env(db: str) -> dict[str, str]:
    return {"INTERLUDE_DB": db} | {LAYERING.env_name(key): text for key, _, text in SETTINGS}


def _toml(value: str | list[str] | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"
    number = re.fullmatch(r"[0-9.]+", value)
    return value if number else f'"{value}"'


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _as_file(tmp_path: Path, db: str, underscores: bool = False) -> Path:
    lines = [f'db = "{db}"']
    for key, value, _ in SETTINGS:
        name = key.replace("-", "_") if underscores else key
        lines.append(f"{name} = {_toml(value)}")
    return _write(tmp_path / "interlude.toml", "\n".join(lines) + "\n")


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], environ: dict[str, str]) -> str:
    """The usage error of a parse that must fail with exit status 2."""
    with pytest.raises(SystemExit) as exited:
        parse_args(argv, environ)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_flag_env_and_file_forms_give_the_same_config(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    from_flags = parse_args(_as_flags(db), {})
    assert from_flags.rest_listen == parse_listen("127.0.0.1:8080")
    assert from_flags.hub_callback_allow == ("hooks.example.com", "10.0.0.0/8")
    assert from_flags.shared_store
    assert not from_flags.limits.keepalive_permit_without_calls
    assert from_flags != parse_args(["--db", db], {})  # the settings change something
    assert parse_args([], _as_env(db)) == from_flags
    assert parse_args(["--config", str(_as_file(tmp_path, db))], {}) == from_flags
    assert parse_args(["--config", str(_as_file(tmp_path, db, underscores=True))], {}) == from_flags
    assert parse_args([], {"INTERLUDE_CONFIG": str(_as_file(tmp_path, db))}) == from_flags


def test_a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", 'log-level = "warning"\nhub-callback-allow = ["file.example"]\n')
    env = {"INTERLUDE_LOG_LEVEL": "error", "INTERLUDE_HUB_CALLBACK_ALLOW": "env.example"}
    flags = ["--log-level", "debug", "--hub-callback-allow", "flag.example"]

    def effective(argv: list[str], environ: dict[str, str]) -> tuple[str, tuple[str, ...]]:
        got = parse_args(argv, environ)
        return got.log_level, got.hub_callback_allow

    on_file = ["--config", str(config)]
    assert effective(on_file + flags, env) == ("debug", ("flag.example",))
    assert effective(on_file, env) == ("error", ("env.example",))
    assert effective(on_file, {}) == ("warning", ("file.example",))
    assert effective([], {}) == ("info", ())
    # A repeatable flag from a higher source replaces the lower one's list, never adds to it.
    assert effective(on_file, {"INTERLUDE_HUB_CALLBACK_ALLOW": ""}) == ("warning", ())


def test_each_setting_names_its_source(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", "workers = 2\nsim-seed = 5\n")
    argv = ["--config", str(config), "--sim-seed", "9"]
    layered = parse_layered(build_parser(), argv, {"INTERLUDE_WORKERS": "4"}, LAYERING)
    sources = {s.key: (s.value, s.source) for s in layered.settings}
    assert sources["sim-seed"] == (9, "flag")
    assert sources["workers"] == (4, "env INTERLUDE_WORKERS")
    assert sources["log-level"] == ("info", "default")
    layered = parse_layered(build_parser(), ["--config", str(config)], {}, LAYERING)
    assert {s.key: s.source for s in layered.settings}["sim-seed"] == f"file {config}"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"INTERLUDE_WORKERS": "four"},
            "environment variable INTERLUDE_WORKERS (--workers): invalid int value: 'four'",
        ),
        ({"INTERLUDE_LOG_LEVEL": "loud"}, "INTERLUDE_LOG_LEVEL (--log-level): invalid choice: 'loud'"),
        (
            {"INTERLUDE_SHARED_STORE": "maybe"},
            "INTERLUDE_SHARED_STORE (--shared-store): expected true or false",
        ),
        ({"INTERLUDE_GRPC_LISTEN": "localhost"}, "INTERLUDE_GRPC_LISTEN (--grpc-listen): expected HOST:PORT"),
        (
            {"INTERLUDE_SHUTDOWN_GRACE": "-1"},
            "INTERLUDE_SHUTDOWN_GRACE (--shutdown-grace): expected a number",
        ),
        ({"INTERLUDE_CONFIG": "/nonexistent/interlude.toml"}, "config file /nonexistent/interlude.toml:"),
    ],
    ids=["int", "choice", "switch", "listen", "grace", "missing-config"],
)
def test_a_bad_variable_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], expected: str
) -> None:
    assert expected in _refused(capsys, [], environ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rest-lisen = '127.0.0.1:1'", "unknown key 'rest-lisen'"),
        ("config = 'other.toml'", "unknown key 'config'"),
        ("print-config = true", "unknown key 'print-config'"),
        ("[server]\nworkers = 2", "unknown key 'server'"),
        ("workers = true", "key 'workers' (--workers): expected a string or a number, got a boolean"),
        ("workers = 'four'", "key 'workers' (--workers): invalid int value: 'four'"),
        ("rest-listen = ['127.0.0.1:1']", "(--rest-listen): expected a string or a number, got an array"),
        ("hub-callback-allow = 'a.example'", "(--hub-callback-allow): expected an array"),
        ("shared-store = 'yes'", "key 'shared-store' (--shared-store): expected true or false, got a string"),
        ("log-format = 'xml'", "key 'log-format' (--log-format): invalid choice: 'xml'"),
        ("workers = 2\nworkers_x = 1", "unknown key 'workers_x'"),
        ("rest-listen = '1:1'\nrest_listen = '1:2'", "keys 'rest-listen' and 'rest_listen' set the same"),
        ("workers = ", "not valid TOML"),
    ],
    ids=[
        "typo", "config", "cli-only", "table", "bool-for-int", "int", "array-for-value",
        "string-for-list", "string-for-switch", "choice", "unknown-after-good", "duplicate", "syntax",
    ],
)  # fmt: skip
def test_a_bad_file_is_a_usage_error_naming_the_file_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str
) -> None:
    config = _write(tmp_path / "bad.toml", text + "\n")
    error = _refused(capsys, ["--config", str(config)], {})
    assert f"config file {config}" in error
    assert expected in error


def test_a_rule_between_flags_holds_whatever_the_source_and_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # --auth none on a remote address is refused from the environment as from the flags.
    error = _refused(capsys, [], {"INTERLUDE_GRPC_LISTEN": "0.0.0.0:50051"})
    assert "--auth none on non-loopback '0.0.0.0'" in error
    error = _refused(capsys, [], {"INTERLUDE_HUB_MAX_ATTEMPTS": "0"})
    assert (
        "--hub-max-attempts: must be at least 1 (--hub-max-attempts from env INTERLUDE_HUB_MAX_ATTEMPTS)"
        in error
    )
    config = _write(tmp_path / "c.toml", 'tls-cert = "/etc/interlude/server.pem"\n')
    error = _refused(capsys, ["--config", str(config)], {})
    assert f"--tls-cert and --tls-key go together (--tls-cert from file {config})" in error
    error = _refused(capsys, ["--config", str(config), "--tls-cert", "/x.pem"], {})
    assert error.rstrip().endswith("--tls-cert and --tls-key go together")  # from a flag: nothing to add


def test_unknown_interlude_variables_warn_in_one_line_and_do_not_stop(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    typo, other = "INTERLUDE_" + "REST_LISTNE", "INTERLUDE_" + "ZZ_UNKNOWN"
    config = parse_args(["--db", db], {typo: "127.0.0.1:1", other: "1", "INTERLUDE_TEST_STORE": "sqlite"})
    assert config.rest_listen is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"warning: ignoring {typo}, {other}: not a flag" in err
    assert "INTERLUDE_TEST_STORE" not in err


def _names_in_repository() -> set[str]:
    """Every INTERLUDE_* name the repository's own files spell out (but this file's)."""
    names: set[str] = set()
    skip = {
        ".venv",
        "node_modules",
        ".git",
        "var",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
    kinds = {".py", ".md", ".toml", ".js", ".sh", ".env", ".service", ".yml", ".yaml", ""}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            path = Path(folder, name)
            if path.suffix in kinds and path != Path(__file__):
                names |= set(
                    re.findall(r"\bINTERLUDE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(errors="replace"))
                )
    return names


def test_every_interlude_variable_of_the_repository_is_a_flag_or_known_to_be_another_tools() -> None:
    flags = {LAYERING.env_name(key) for key in settable(build_parser(), LAYERING)} | {"INTERLUDE_CONFIG"}
    names = _names_in_repository()
    assert {"INTERLUDE_TEST_STORE", "INTERLUDE_TOKEN", "INTERLUDE_REFERENCE_DIR"} <= names  # the scan works
    stray = sorted(n for n in names if n not in flags and not LAYERING.is_foreign(n))
    assert stray == [], "add them to FOREIGN_ENV in config.py (or make them flags)"
    assert not [n for n in names if n in flags and LAYERING.is_foreign(n)]


def test_a_flag_added_later_is_settable_from_env_and_file_with_no_extra_code(tmp_path: Path) -> None:
    parser = build_parser()
    parser.add_argument("--example-listen", type=parse_listen, default=None)
    parser.add_argument("--example-log", action="store_true")
    parser.add_argument("--example-header", action="append", default=[], choices=("traceparent", "b3"))
    config = _write(tmp_path / "c.toml", 'example-listen = "127.0.0.1:9464"\nexample-header = ["b3"]\n')
    ns = parse_layered(
        parser, ["--config", str(config)], {"INTERLUDE_EXAMPLE_LOG": "yes"}, LAYERING
    ).namespace
    assert (ns.example_listen, ns.example_log, ns.example_header) == (
        parse_listen("127.0.0.1:9464"),
        True,
        ["b3"],
    )
    with pytest.raises(SystemExit):
        parse_layered(parser, [], {"INTERLUDE_EXAMPLE_HEADER": "b3,zipkin"}, LAYERING)


def _printed(capsys: pytest.CaptureFixture[str], argv: list[str], environ: dict[str, str]) -> str:
    with pytest.raises(SystemExit) as exited:
        parse_args([*argv, "--print-config"], environ)
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_printed_config_read_back_as_a_file_gives_the_same_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    argv = [*_as_flags(db), "--ready-file", str(tmp_path / "ready"), "--seed", "demo"]
    printed = _printed(capsys, argv, {})
    assert 'rest-listen = "127.0.0.1:8080"  # flag' in printed
    assert "# log-format is not set  # default" in printed
    config = _write(tmp_path / "printed.toml", printed)
    assert parse_args(["--config", str(config)], {}) == parse_args(argv, {})


def test_printed_config_shows_sources_and_masks_secrets(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = _write(tmp_path / "c.toml", "event-retention-count = 5\n")
    environ = {
        "INTERLUDE_DB": "postgresql://interlude:s3cret-pw@db.example/interlude",
        "INTERLUDE_WORKERS": "2",
    }
    printed = _printed(capsys, ["--config", str(config), "--sim-seed", "7"], environ)
    assert "s3cret-pw" not in printed
    assert 'db = "postgresql://interlude:***@db.example/interlude"  # env INTERLUDE_DB, masked' in printed
    assert "workers = 2  # env INTERLUDE_WORKERS" in printed
    assert f"event-retention-count = 5  # file {config}" in printed
    assert "sim-seed = 7  # flag" in printed
    assert "shutdown-grace = 10.0  # default" in printed


def test_secret_values_are_masked_and_files_of_secrets_are_shown(tmp_path: Path) -> None:
    parser = build_parser()
    parser.add_argument("--metrics-token", default=None)
    parser.add_argument("--audit-dsn", default=None)
    environ = {
        "INTERLUDE_METRICS_TOKEN": "tok-123",
        "INTERLUDE_AUDIT_DSN": "host=db user=x password=pw-456 dbname=a",
        "INTERLUDE_JWT_HS256_SECRET_FILE": "/etc/interlude/hs256.secret",
    }
    text = render(parse_layered(parser, [], environ, LAYERING), "interlude-server")
    assert "tok-123" not in text
    assert "pw-456" not in text
    assert 'metrics-token = "***"  # env INTERLUDE_METRICS_TOKEN, masked' in text
    assert "password=***" in text
    assert 'jwt-hs256-secret-file = "/etc/interlude/hs256.secret"' in text
