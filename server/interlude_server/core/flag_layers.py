"""A command's flags also read from the environment and from a TOML file.

Every option of an argparse parser that stores a value can come from the command line, from an
environment variable PREFIX + the long flag upper-cased, dashes as underscores (`--rest-listen`
-> `INTERLUDE_REST_LISTEN`), or from a key of a flat TOML file (`rest-listen = "..."`, or
`rest_listen`); the first of these that sets it wins, else the parser's default. All of it is
derived from the parser's actions (type, choices, nargs, append, store_true, BooleanOptional),
so a flag added later is covered with no code here. A value is converted and checked by its
flag's own `type` and `choices`; a bad one is a usage error (exit 2) naming where it came from.

What each kind of flag takes:

| flag                         | environment                      | TOML file              |
|------------------------------|----------------------------------|------------------------|
| one value (`--db URL`)       | the text                         | a string or a number   |
| repeatable / several values  | comma-separated items            | an array               |
| switch (`--shared-store`)    | true/false, 1/0, yes/no, on/off  | true or false          |

Not settable from the environment or a file: hidden flags (`help=SUPPRESS`), flags without a
long name, actions that store nothing (`--help`, `--version`) and the `cli_only` dests. The
config-file flag itself is read from the command line, then from the environment.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

Kind = Literal["value", "list", "switch", "bool", "count"]
FLAG = "flag"
DEFAULT = "default"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class SourceError(Exception):
    """A value from the environment or the file that its flag refuses."""


@dataclass(frozen=True)
class Layering:
    """Where a command's flags may come from besides its command line."""

    prefix: str  # of the environment variables, e.g. INTERLUDE_
    config_dest: str = "config"  # the flag naming the TOML file
    cli_only: frozenset[str] = frozenset()  # dests only the command line sets (e.g. print_config)
    foreign_env: tuple[str, ...] = ()  # fnmatch patterns of PREFIX variables other tools own

    def env_name(self, key: str) -> str:
        return self.prefix + key.upper().replace("-", "_")

    def is_foreign(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.foreign_env)


@dataclass(frozen=True)
class Setting:
    """One effective setting and where it came from."""

    key: str  # the long flag without its dashes, also its TOML key
    dest: str
    value: object
    source: str  # "flag", "env NAME", "file PATH" or "default"


@dataclass(frozen=True)
class Layered:
    """The parsed namespace, each setting with its source, and what the environment held in vain."""

    namespace: argparse.Namespace
    settings: tuple[Setting, ...]
    config_file: Path | None
    ignored_env: tuple[str, ...]  # PREFIX variables that name no flag (and no foreign tool)


class ExplainingParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors also say where the flags they name got their values, once
    `parse_layered` has set them: a rule between flags (`--tls-cert and --tls-key go together`)
    checked after parsing names the variable or file a flag came from."""

    origins: Mapping[str, str] = {}  # "--workers" -> "env INTERLUDE_WORKERS"

    def error(self, message: str) -> NoReturn:
        named = [
            f"{flag} from {source}"
            for flag, source in self.origins.items()
            if re.search(rf"{re.escape(flag)}(?![\w-])", message)
        ]
        super().error(message + (f" ({'; '.join(named)})" if named else ""))


def long_key(action: argparse.Action) -> str | None:
    """`rest-listen` for `--rest-listen`: the first long option without its dashes."""
    return next((o[2:] for o in action.option_strings if o.startswith("--")), None)


def kind_of(action: argparse.Action) -> Kind | None:
    """How the action takes a value, or None when the environment and files cannot set it."""
    if not action.option_strings or action.help == argparse.SUPPRESS or action.dest == argparse.SUPPRESS:
        return None
    if isinstance(action, argparse.BooleanOptionalAction):
        return "bool"
    if isinstance(action, argparse._StoreConstAction):  # store_true, store_false, store_const
        return "switch"
    if isinstance(action, argparse._CountAction):
        return "count"
    if isinstance(action, argparse._ExtendAction):
        return "list"
    if isinstance(action, argparse._AppendAction):
        return "list" if action.nargs is None else None
    if isinstance(action, argparse._StoreAction):
        return "value" if action.nargs in (None, "?") else "list"
    return None


def settable(parser: argparse.ArgumentParser, layering: Layering) -> dict[str, tuple[argparse.Action, Kind]]:
    """The flags the environment and a file may set, by key."""
    found: dict[str, tuple[argparse.Action, Kind]] = {}
    for action in parser._actions:
        key, kind = long_key(action), kind_of(action)
        if key is None or kind is None or action.dest in layering.cli_only:
            continue
        if action.dest != layering.config_dest:
            found[key] = (action, kind)
    return found


def parse_layered(
    parser: argparse.ArgumentParser, argv: Sequence[str], environ: Mapping[str, str], layering: Layering
) -> Layered:
    """Parse `argv`, then fill each flag it does not give from `environ`, else the config file.

    Exits with status 2 through `parser.error` on a bad flag, variable, file or key."""
    namespace = parser.parse_args(list(argv))
    given = _given_on_command_line(parser, argv)
    flags = settable(parser, layering)
    config_file = _config_file(parser, namespace, given, environ, layering)
    in_file = _read_file(parser, config_file, flags) if config_file is not None else {}
    settings = []
    for key, (action, kind) in flags.items():
        name = layering.env_name(key)
        value: object = getattr(namespace, action.dest, None)
        source = FLAG if action.dest in given else DEFAULT
        try:
            if source == FLAG:
                pass
            elif name in environ:
                source = f"env {name}"
                value = _value(action, kind, _from_env(kind, environ[name]), value)
            elif key in in_file:
                source = f"file {config_file}"
                value = _value(action, kind, _from_file(kind, in_file[key][1]), value)
        except SourceError as exc:
            where = (
                f"environment variable {name}"
                if source.startswith("env")
                else _file_where(config_file, in_file[key][0])
            )
            parser.error(f"{where} (--{key}): {exc}")
        setattr(namespace, action.dest, value)
        settings.append(Setting(key, action.dest, value, source))
    if isinstance(parser, ExplainingParser):
        parser.origins = {f"--{s.key}": s.source for s in settings if s.source not in (FLAG, DEFAULT)}
    return Layered(namespace, tuple(settings), config_file, _ignored(environ, flags, layering, parser))


def _file_where(path: Path | None, raw_key: str) -> str:
    return f"config file {path}, key {raw_key!r}"


def _given_on_command_line(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The dests `argv` sets: parsed again by a copy of the parser without defaults."""
    probe = copy.deepcopy(parser)
    probe._defaults.clear()
    for action in probe._actions:
        action.default = argparse.SUPPRESS
    return set(vars(probe.parse_args(list(argv))))


def _config_file(
    parser: argparse.ArgumentParser,
    namespace: argparse.Namespace,
    given: set[str],
    environ: Mapping[str, str],
    layering: Layering,
) -> Path | None:
    """The config file: its flag, else its environment variable, else none."""
    action = next((a for a in parser._actions if a.dest == layering.config_dest), None)
    key = long_key(action) if action is not None else None
    if action is None or key is None:
        return None
    if action.dest in given:
        named = getattr(namespace, action.dest)
        return None if named is None else Path(named)
    text = environ.get(layering.env_name(key), "")
    return Path(text) if text else None


def _read_file(
    parser: argparse.ArgumentParser, path: Path, flags: Mapping[str, object]
) -> dict[str, tuple[str, object]]:
    """The file's values by flag key, each with the key as the file spells it."""
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except OSError as exc:
        parser.error(f"config file {path}: {exc.strerror or exc}")
    except tomllib.TOMLDecodeError as exc:
        parser.error(f"config file {path}: not valid TOML: {exc}")
    found: dict[str, tuple[str, object]] = {}
    for raw_key, value in document.items():
        key = raw_key.replace("_", "-")
        if key not in flags:
            parser.error(f"config file {path}: unknown key {raw_key!r}: not a flag a config file can set")
        if key in found:
            parser.error(f"config file {path}: keys {found[key][0]!r} and {raw_key!r} set the same flag")
        found[key] = (raw_key, value)
    return found


def _ignored(
    environ: Mapping[str, str],
    flags: Mapping[str, object],
    layering: Layering,
    parser: argparse.ArgumentParser,
) -> tuple[str, ...]:
    known = {layering.env_name(key) for key in flags}
    config = next((a for a in parser._actions if a.dest == layering.config_dest), None)
    if config is not None and (key := long_key(config)) is not None:
        known.add(layering.env_name(key))
    return tuple(
        sorted(
            name
            for name in environ
            if name.startswith(layering.prefix) and name not in known and not layering.is_foreign(name)
        )
    )


def _from_env(kind: Kind, text: str) -> object:
    """An environment variable's text as its kind of flag takes it (not yet converted)."""
    if kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    if kind in ("switch", "bool"):
        word = text.strip().lower()
        if word not in _TRUE | _FALSE:
            raise SourceError(f"expected true or false (1/0, yes/no, on/off), got {text!r}")
        return word in _TRUE
    if kind == "count":
        if not text.strip().isdecimal():
            raise SourceError(f"expected a count (0, 1, 2, ...), got {text!r}")
        return int(text)
    return text


def _from_file(kind: Kind, value: object) -> object:
    """A TOML value as its kind of flag takes it (not yet converted)."""
    if kind in ("switch", "bool"):
        if not isinstance(value, bool):
            raise SourceError(f"expected true or false, got {_toml_type(value)}")
        return value
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SourceError(f"expected a count (0, 1, 2, ...), got {_toml_type(value)}")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise SourceError(f"expected an array, got {_toml_type(value)}")
        return [_scalar_text(item) for item in value]
    return _scalar_text(value)


def _scalar_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise SourceError(f"expected a string or a number, got {_toml_type(value)}")


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _value(action: argparse.Action, kind: Kind, raw: object, default: object) -> object:
    """The value the flag would store for `raw` (converted and checked as argparse would)."""
    if kind == "switch":
        return action.const if raw else default
    if kind in ("bool", "count"):
        return raw
    if kind == "list":
        assert isinstance(raw, list)
        items = [_convert(action, item) for item in raw]
        if isinstance(action.nargs, int) and len(items) != action.nargs:
            raise SourceError(f"expected {action.nargs} values, got {len(items)}")
        if action.nargs == "+" and not items:
            raise SourceError("expected at least one value")
        return items
    assert isinstance(raw, str)
    return _convert(action, raw)


def _convert(action: argparse.Action, text: str) -> object:
    """`text` through the flag's type and choices, with argparse's messages."""
    convert = action.type
    value: object = text
    if callable(convert):
        try:
            value = convert(text)
        except argparse.ArgumentTypeError as exc:
            raise SourceError(str(exc)) from None
        except (TypeError, ValueError):
            name = getattr(convert, "__name__", repr(convert))
            raise SourceError(f"invalid {name} value: {text!r}") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(repr(choice) for choice in action.choices)
        raise SourceError(f"invalid choice: {value!r} (choose from {choices})")
    return value


# --- the effective settings, printed (--print-config) ---

SECRET_WORDS = frozenset({"password", "passwd", "secret", "token", "key", "credential", "credentials"})
MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^@/\s]+@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)[^\s&]+", re.IGNORECASE)


def is_secret(dest: str, value: object) -> bool:
    """A setting whose value is a secret itself: its name has a secret word and it is text
    (a Path names the file holding a secret, which is shown)."""
    return bool(SECRET_WORDS & set(dest.split("_"))) and isinstance(value, str | list | tuple)


def redact(text: str) -> str:
    """`text` without the passwords of a URL (`scheme://user:PASSWORD@host`) or a libpq
    keyword string (`password=...`)."""
    return _KEYWORD_PASSWORD.sub(rf"\g<1>{MASK}", _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text))


def render(layered: Layered, prog: str) -> str:
    """The settings as TOML lines, each followed by its source; secrets masked. Unset ones
    are comments, so the text can be used as a `--config` file as it is."""
    lines = [f"# {prog}: the effective settings; after each, where it came from (flag, env, file, default)"]
    if layered.config_file is not None:
        lines.append(f"# config file: {layered.config_file}")
    for setting in layered.settings:
        masked = is_secret(setting.dest, setting.value) and bool(setting.value)
        shown = _toml(MASK if masked else setting.value)
        note = setting.source + (", masked" if masked or (shown and redact(shown) != shown) else "")
        if shown is None:
            lines.append(f"# {setting.key} is not set  # {note}")
        else:
            lines.append(f"{setting.key} = {redact(shown)}  # {note}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str | None:
    """A TOML literal of `value`; objects by their str() (the form their flag takes)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(item for item in map(_toml, value) if item is not None) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a str, a Path, or an object by its str()
