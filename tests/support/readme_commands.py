"""The grpcurl commands of README.md's code blocks, as argument lists a test can run.

README.md shows grpcurl as a reader types it: fenced code blocks with shell variables
(`S=...; B='...'`), continuation lines, JSON bodies spanning lines, comments and
placeholders such as ORDER_ID. `grpcurl_examples` reads every block that holds a grpcurl
command, in README order as one shell session would (a variable set in one block holds
in the next), and returns each grpcurl command with its variables expanded. Only the
shell a reader needs for these blocks is understood: assignments, `;`, `\\` at a line's
end, quotes and `#` comments; any other command (curl, ...) is passed over.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*```")
_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)=(.*)$", re.DOTALL)
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Example:
    """One grpcurl command of README.md: where it starts and its arguments."""

    line: int  # 1-based line of README.md where the command starts
    argv: tuple[str, ...]  # "grpcurl" first; variables expanded, placeholders (ORDER_ID) kept


def code_blocks(readme: str) -> Iterator[tuple[int, str]]:
    """(first line number, dedented text) of each fenced code block."""
    lines = readme.splitlines()
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        if not _FENCE.match(line):
            continue
        if start is None:
            start = number + 1
        else:
            yield start, textwrap.dedent("\n".join(lines[start - 1 : number - 1]))
            start = None


def grpcurl_lines(readme: str) -> list[int]:
    """The README lines, inside code blocks, that start a grpcurl command."""
    return [
        first + offset
        for first, block in code_blocks(readme)
        for offset, line in enumerate(block.splitlines())
        if line.strip().startswith("grpcurl ")
    ]


def _commands(first: int, block: str) -> Iterator[tuple[int, str]]:
    """(line, text) of each shell command line of `block`, continuation lines joined."""
    pending: list[str] = []
    start = first
    for offset, line in enumerate(block.splitlines()):
        if not pending:
            start = first + offset
        pending.append(line)
        text = "\n".join(pending)
        if text.rstrip().endswith("\\"):
            continue
        try:
            shlex.split(text, comments=True)
        except ValueError:  # a quote still open: the JSON body goes on
            continue
        pending = []
        yield start, text
    assert not pending, f"README.md line {start}: unterminated command {pending}"


def _words(text: str) -> Iterator[list[str]]:
    """The simple commands of one command line, split at `;`."""
    lexer = shlex.shlex(text.replace("\\\n", " "), posix=True, punctuation_chars=";")
    lexer.whitespace_split = True
    command: list[str] = []
    for token in lexer:
        if token == ";":
            yield command
            command = []
        else:
            command.append(token)
    yield command


def _expand(word: str, variables: Mapping[str, str], line: int) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise KeyError(f"README.md line {line}: ${name} is set by no earlier block nor the test")
        return variables[name]

    return _VARIABLE.sub(value, word)


def grpcurl_examples(readme: str, environment: Mapping[str, str]) -> list[Example]:
    """Every grpcurl command of README.md, in order, with `environment` as the shell's
    variables before the first block (for what the README leaves to the reader, e.g. $TOKEN)."""
    variables = dict(environment)
    examples: list[Example] = []
    for first, block in code_blocks(readme):
        if not any(line.strip().startswith("grpcurl ") for line in block.splitlines()):
            continue
        for line, text in _commands(first, block):
            for words in _words(text):
                while words and (assignment := _ASSIGNMENT.match(words[0])):
                    variables[assignment.group(1)] = _expand(assignment.group(2), variables, line)
                    words = words[1:]
                if words and words[0] == "grpcurl":
                    examples.append(Example(line, tuple(_expand(w, variables, line) for w in words)))
    return examples
