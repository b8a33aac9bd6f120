"""Entry point: assembles the command modules and ends every command line with the exit status
README.md's table promises. A mistake of the user's is one line on stderr, never a traceback;
a bug is one line naming the file that holds its traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any, NoReturn

import typer
import typer.main
from rich.markup import escape

# typer >= 0.29 bundles its own copy of click: `click.ClickException` never matches what it raises.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from opsbinder.errors import ConfigError, ExitCode, OpsbinderError

app = typer.Typer(
    name="opsbinder",
    help="The operations binder as code: procedures, runs, incidents, status pages, handover.",
    epilog="Exit status: 0 done, 1 the work found failures, 2 bad input or usage, 3 not found, "
    "4 refused, 5 store or server unreachable, 70 a bug (its traceback goes to a file), "
    "130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module adds its commands with register(app); one module per area of the product.
COMMAND_MODULES = (
    "validate",
    "db",
    "audit",
    "demo",
    "run",
    "incidents",
    "oncall",
    "outbox",
    "web",
    "updates",
    "users",
    "deploy",
    "history",
    "report",
    "handover",
    "archive",
    "integrations",
    "housekeeping",
    "evidence",
)

try:  # importing the commands takes most of a second: Ctrl-C then is an interruption too
    from opsbinder.cli.common import clock, err_console

    for name in COMMAND_MODULES:
        importlib.import_module(f"opsbinder.cli.{name}").register(app)
except KeyboardInterrupt:
    sys.stderr.write("interrupted\n")
    sys.exit(ExitCode.INTERRUPTED)


def _version() -> str:
    try:
        return dist_version("opsbinder")
    except PackageNotFoundError:  # run from a source tree that is not installed
        from opsbinder import __version__

        return __version__


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"opsbinder {_version()}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def root(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Options of `opsbinder` itself, before the command (the app's help says what it is)."""


def _error(text: str) -> None:
    err_console.print(f"[red]error:[/red] {text}", soft_wrap=True)


def _plain(text: str) -> str:
    """One line, safe for rich markup."""
    return escape(" ".join(text.split()))


def _config_problems(exc: ConfigError) -> None:
    """One line per problem: `file:line: field: what is wrong (value: ...)`."""
    err_console.print(f"[red]The binder has {len(exc.problems)} problem(s):[/red]")
    for problem in exc.problems:
        err_console.print(f"  {problem}", markup=False, soft_wrap=True)


def _usage(exc: UsageError) -> int:
    """`error: <what> Try 'opsbinder incidents show --help'.` on one line, exit 2."""
    command = exc.ctx.command_path if exc.ctx is not None else "opsbinder"
    what = _plain(exc.format_message()).rstrip(".")
    _error(f"{what}{_value_of(exc)}. Try '{_plain(command)} --help'.")
    return ExitCode.USAGE


def _value_of(exc: UsageError) -> str:
    """` (value: 'abc')`: typer's message for a value that does not parse leaves it out."""
    from pydantic import ValidationError

    cause = exc.__cause__
    if not isinstance(cause, ValidationError) or not cause.errors():
        return ""
    value = cause.errors()[0].get("input")
    return f" (value: {_plain(repr(value)[:80])})" if isinstance(value, str) else ""


def _os_error(exc: OSError) -> int:
    """A file the user named cannot be read or written: their environment, not a bug."""
    _error(_plain(f"{exc.filename}: {exc.strerror or exc}"))
    return ExitCode.REFUSED if isinstance(exc, PermissionError) else ExitCode.USAGE


def _aborted(exc: typer.Abort) -> int:
    """A prompt ended: by Ctrl-C (130), or by end of input when nobody can answer it (2)."""
    if isinstance(exc.__context__, EOFError):
        _error("no answer to the prompt (end of input); give the value by option or variable")
        return ExitCode.USAGE
    err_console.print("interrupted")
    return ExitCode.INTERRUPTED


def _bug(exc: BaseException, args: list[str]) -> int:
    """One line on the terminal; the traceback goes to a file the user can attach to a report."""
    path = _write_trace(exc, args)
    where = f"the traceback is in {path}" if path else "the traceback could not be written"
    _error(
        f"internal error ({_plain(type(exc).__name__)}): this is a bug in opsbinder, not in "
        f"your input; {_plain(where)}"
    )
    return ExitCode.BUG


def _write_trace(exc: BaseException, args: list[str]) -> Path | None:
    """OPSBINDER_HOME/crash/<time>-<pid>.txt, private to the user (it may hold data)."""
    text = f"opsbinder {_version()}: {_command_words(args)}\n"
    text += "".join(traceback.format_exception(exc))
    stamp = clock().now().strftime("%Y%m%dT%H%M%SZ")
    for folder in _crash_folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{stamp}-{os.getpid()}.txt"
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(text)
            return path
        except OSError:
            continue
    return None


def _command_words(args: list[str]) -> str:
    """`incidents note`: only the command's names, as values may be secrets or people's names."""
    command: Any = typer.main.get_command(app)
    words = []
    for word in args:
        command = getattr(command, "commands", {}).get(word)
        if command is None:
            break
        words.append(word)
    return " ".join(words)


def _crash_folders() -> list[Path]:
    folders = [Path(tempfile.gettempdir()) / "opsbinder-crash"]
    try:
        from opsbinder.settings import get_settings

        folders.insert(0, get_settings().home / "crash")
    except Exception:  # settings that do not parse are the bug being reported, maybe
        pass
    return folders


def exit_status(args: list[str]) -> int:
    """Run one command line and return its exit status; what went wrong is on stderr."""
    try:
        result: Any = app(args=args, prog_name="opsbinder", standalone_mode=False)
    except ConfigError as exc:
        _config_problems(exc)
        return exc.exit_code
    except OpsbinderError as exc:
        _error(escape(str(exc)))
        return exc.exit_code
    except NoArgsIsHelpError:
        return ExitCode.USAGE  # the help is already on stdout: no command is a usage error
    except UsageError as exc:
        return _usage(exc)
    except ClickException as exc:  # e.g. a file option that cannot be opened
        _error(_plain(exc.format_message()))
        return exc.exit_code
    except typer.Abort as exc:
        return _aborted(exc)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return ExitCode.INTERRUPTED
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        return _os_error(exc) if exc.filename else _bug(exc, args)
    except Exception as exc:
        return _bug(exc, args)
    if result == ExitCode.INTERRUPTED:  # typer turns Ctrl-C in a command into Exit(130)
        err_console.print("interrupted")
    return result if isinstance(result, int) else ExitCode.OK


def main() -> NoReturn:
    sys.exit(int(exit_status(sys.argv[1:])))


if __name__ == "__main__":
    main()
