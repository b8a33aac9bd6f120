"""A child started as a terminal starts it: Ctrl-C (SIGINT) at its default disposition.

A child inherits an ignored SIGINT from its parent, and a test process may have had SIGINT set
to ignored by code that ran before it in the same worker (a runner's shutdown handling, say): the
child would then shrug off the Ctrl-C the test sends and the test would wait for nothing."""

from __future__ import annotations

import signal


def ctrl_c_enabled() -> None:
    """`preexec_fn` for subprocess.Popen: runs in the child before it executes the command."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
