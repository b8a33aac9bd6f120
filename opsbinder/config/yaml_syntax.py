"""A YAML syntax error said where the mistake is, not where the parser noticed it.

The parser notices an unclosed `{` or `[` lines later, at whatever comes next; people need the
line of the bracket. Inside one line it notices a `:` or a missing `,`; people need to know
which of the two and what to do.
"""

from __future__ import annotations

import yaml
from yaml.reader import ReaderError

_PAIRS = {"{": "}", "[": "]"}


def syntax_problem(text: str, exc: yaml.YAMLError) -> tuple[int | None, str]:
    """The line to report and the message, for an error of the YAML parser."""
    problem = str(getattr(exc, "problem", None) or exc)
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context", None) or ""
    line = mark.line + 1 if mark else None
    if isinstance(exc, ReaderError):
        line = text[: exc.position].count("\n") + 1
        return (
            line,
            f"not valid YAML: character #x{exc.character:04x} is not allowed ({exc.reason})",
        )
    found = (
        _in_flow(text, mark.index, mark.line, mark.column) if "flow" in context and mark else None
    )
    if found:
        return found
    if mark and text[mark.index : mark.index + 1] == "\t":
        problem += " (a tab: indent with spaces)"
    elif "block" in context:
        problem += " (check this line's indentation against the lines above)"
    return line, f"not valid YAML: {problem}"


def _in_flow(text: str, index: int, row: int, column: int) -> tuple[int, str] | None:
    opened = _open_brackets(text, index)
    if not opened:
        return None
    bracket, at_line, at_column = opened[-1]
    closed = _PAIRS[bracket]
    if at_line < row:
        return at_line + 1, (
            f"not valid YAML: the '{bracket}' at column {at_column + 1} is never closed: "
            f"'{closed}' expected before line {row + 1}"
        )
    got = text[index : index + 1]
    why = "a value with ': ' in it must be quoted" if got == ":" else "a ',' missing?"
    return row + 1, (
        f"not valid YAML: '{got}' at column {column + 1} inside the '{bracket}...{closed}' "
        f"that starts at column {at_column + 1} ({why})"
    )


def _open_brackets(text: str, end: int) -> list[tuple[str, int, int]]:
    """Brackets opened and not closed before `end`: (bracket, line, column), quotes skipped."""
    stack: list[tuple[str, int, int]] = []
    line = column = 0
    quote = ""
    i = 0
    while i < end:
        char = text[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"" and (i == 0 or text[i - 1] in " \t\n[{,:"):
            quote = char
        elif char == "#" and (i == 0 or text[i - 1] in " \t\n"):
            newline = text.find("\n", i)
            i = end if newline < 0 else min(newline, end)
            continue
        elif char in _PAIRS:
            stack.append((char, line, column))
        elif char in "]}" and stack and _PAIRS[stack[-1][0]] == char:
            stack.pop()
        if char == "\n":
            line, column = line + 1, 0
        else:
            column += 1
        i += 1
    return stack
