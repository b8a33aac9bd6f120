"""Entry point: assembles the command modules and turns user errors into clean messages."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.markup import escape

from opsbinder.cli.common import err_console
from opsbinder.errors import ConfigError, OpsbinderError

app = typer.Typer(
    name="opsbinder",
    help="The operations binder as code: procedures, runs, incidents, status pages, handover.",
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
)

for name in COMMAND_MODULES:
    importlib.import_module(f"opsbinder.cli.{name}").register(app)


def main() -> None:
    try:
        app(standalone_mode=False)
    except ConfigError as exc:
        err_console.print(f"[red]The binder has {len(exc.problems)} problem(s):[/red]")
        for problem in exc.problems:
            err_console.print(f"  {problem}", markup=False, soft_wrap=True)  # one line each
        sys.exit(exc.exit_code)
    except OpsbinderError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyError as exc:  # lookups by a name the user typed
        err_console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
        sys.exit(3)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click usage errors arrive here in standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
