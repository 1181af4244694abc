"""The integrity guard: catch student code that replaces ``builtins`` or numpy functions.

Before any student code runs, a snapshot of ``builtins``, ``math``, ``numpy``, ``numpy.linalg`` and
``numpy.testing`` is taken in the kernel (:data:`GUARD_INSTALL`). Before each graded test cell,
if student code (any unlocked cell) ran since the last check, the kernel compares those modules
with the snapshot and prints one line with a random nonce; a test cell after a replacement is not
run and scores 0 (so is every later one). One check costs one hidden execution (about 2 ms).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from nbformat import NotebookNode
from nbgrader.utils import is_grade

#: Runs helper code in the kernel without touching the notebook; returns its outputs.
HiddenRunner = Callable[[str, int], list[NotebookNode]]

UNREADABLE = "the integrity check could not run (stdout or the guard was replaced)"

GUARD_INSTALL = r'''
def _l2course_install_guard():
    import builtins, math, sys
    modules = {"builtins": builtins, "math": math}
    try:
        import numpy, numpy.linalg, numpy.testing
        modules.update({"numpy": numpy, "numpy.linalg": numpy.linalg,
                        "numpy.testing": numpy.testing})
    except ImportError:
        pass
    snapshot = {name: (mod, dict(vars(mod))) for name, mod in modules.items()}
    _stdout = sys.stdout
    _vars, _sorted, _join = vars, sorted, str.join
    # IPython/ipykernel rebind these on every execution
    _volatile = {"input", "raw_input", "get_ipython", "exit", "quit", "display", "help",
                 "getpass"}

    def check(nonce):
        changed = []
        for name, (mod, before) in snapshot.items():
            if sys.modules.get(name) is not mod:
                changed.append(name + " (module replaced)")
                continue
            now = _vars(mod)
            for key, value in before.items():
                if key.startswith("_") or key in _volatile:
                    continue
                if now.get(key, check) is not value:
                    changed.append(name + "." + key)
            for key in now.keys() - before.keys():
                if not key.startswith("_") and name == "builtins":
                    changed.append(name + "." + key)
        _stdout.write("L2GUARD " + nonce + " " + _join(",", _sorted(changed)[:20]) + "\n")
        _stdout.flush()

    return check

_l2course_guard_check = _l2course_install_guard()
del _l2course_install_guard
'''



def parse_report(outputs: list[NotebookNode], nonce: str) -> str | None:
    """None if the kernel reported nothing replaced, else what was (or that it could not tell)."""
    prefix = f"L2GUARD {nonce} "
    for out in outputs:
        if out.get("output_type") == "stream":
            for line in out.get("text", "").splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip() or None
    return UNREADABLE


class IntegrityGuard:
    """The guard's state for one notebook run (one instance per ``preprocess``)."""

    def __init__(self, run_hidden: HiddenRunner) -> None:
        self.run_hidden = run_hidden
        self.installed = False
        self.dirty = False  # student code ran since the last check
        self.tampered: str | None = None

    def before_cell(self, cell: NotebookNode, index: int) -> str | None:
        """What student code replaced (the cell must not run), or None."""
        if not self.installed:
            self.run_hidden(GUARD_INSTALL, index)
            self.installed = True
        if is_grade(cell):
            # only student code can tamper: check again only if some ran since the last check;
            # once tampered, every later test scores 0
            if self.dirty and not self.tampered:
                self.tampered = self.check(index)
                self.dirty = False
            if self.tampered:
                return self.tampered
        if not cell.metadata.get("nbgrader", {}).get("locked"):
            self.dirty = True
        return None

    def check(self, index: int) -> str | None:
        nonce = secrets.token_hex(8)
        return parse_report(self.run_hidden(f"_l2course_guard_check({nonce!r})", index), nonce)
