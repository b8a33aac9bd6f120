"""Run benchmarks: `python -m bench [NAME ...] [-- ARGS]`.

Every module in bench/ (not starting with "_") is a script; with no NAME all of them run, one
after another, each with ARGS as its command line. Figures go to bench/README.md by hand.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))


def main(argv: list[str]) -> int:
    names, args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(known)})",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, str(HERE.parent))
    for name in names or known:
        print(f"== bench/{name}.py {' '.join(args)}", flush=True)
        saved = sys.argv
        sys.argv = [str(HERE / f"{name}.py"), *args]
        try:
            runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
        finally:
            sys.argv = saved
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
