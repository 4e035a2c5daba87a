"""Progress lines for long solves (``verbose``), printed to stderr like the CLI's."""

from __future__ import annotations

import sys
import time


class ProgressPrinter:
    """A solver callback that prints one line per certificate check, at most one a second at
    ``verbose == 1`` and every check at ``verbose >= 2``. Returns None, so it never stops a solve."""

    def __init__(self, verbose: int, stream=None):
        self.verbose = int(verbose)
        self.stream = stream if stream is not None else sys.stderr
        self._last_print = -float("inf")
        self.last_record = None
        self._last_printed = None

    def __call__(self, record: dict) -> None:
        self.last_record = record
        now = time.monotonic()
        if self.verbose >= 2 or now - self._last_print >= 1.0:
            self._last_print = now
            self.print(record)

    def print(self, record: dict) -> None:
        self._last_printed = record
        line = (f"iter {record['iteration']:>8}  {record['seconds']:8.2f} s  objective {record['objective']:.10g}"
                f"  dual {record['dual']:.10g}  relative gap {record['relative_gap']:.3e}")
        if record.get("constraint_violation", 0.0) > 0.0:
            line += f"  violation {record['constraint_violation']:.2e}"
        print(line, file=self.stream, flush=True)

    def finish(self, history=None) -> None:
        """Prints the solve's final check (the last row of ``history``, the solution's columns of
        checks): solvers stop at a converged check without calling back, so the callback may not
        have seen it."""
        if history is not None and len(history["iteration"]) > 0:
            final = {name: column[-1] for name, column in history.items()}
            if self._last_printed is None or final["iteration"] != self._last_printed["iteration"]:
                self.print(final)
        elif self.last_record is not None and self.last_record is not self._last_printed:
            self.print(self.last_record)
