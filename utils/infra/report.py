"""Headline figures (printed in the notebook, collected by ``make course``) and run timings."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

RESULTS_ENV = "COURSE_RESULTS"


def headline(label: str, value: object) -> None:
    """Print ``label: value`` and, under ``make course``, record it for the summary table."""
    text = f"{label}: {value}"
    print(text)
    target = os.environ.get(RESULTS_ENV)
    if not target:
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = json.loads(path.read_text()) if path.exists() else []
    entries = [e for e in entries if e["label"] != label] + [{"label": label, "value": str(value)}]
    path.write_text(json.dumps(entries, indent=1))


class Stopwatch:
    """Adds the time spent inside ``with`` to ``timings[name]``."""

    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        self.timings[self.name] += time.perf_counter() - self.start


class _LiveLine:
    """A file for tqdm that shows only its latest line, in one notebook output updated in place.

    A widget bar would be saved in the notebook as its first state ("0%"); a line updated in
    place is saved as its last, which is what a reader of the executed notebook should see.
    """

    def __init__(self) -> None:
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(""), display_id=True)

    def write(self, text: str) -> None:
        lines = text.replace("\r", "\n").strip().splitlines()
        if lines:
            self._handle.update(self._pretty(lines[-1]))

    def flush(self) -> None:
        pass


def in_notebook_kernel() -> bool:
    """True inside a Jupyter kernel (where Python's stderr is the kernel's stream)."""
    return "ipykernel" in sys.modules and type(sys.stderr).__name__ == "OutStream"


def progress_bar(iterable: Iterable, *, desc: str, disable: bool = False):
    """A ``tqdm`` progress bar: in a notebook one text line updated in place, else on stderr.

    Unlike a plain ``tqdm``, leaving the loop early (``break``) does not close the bar: the
    trainers show their final numbers on it, then close it themselves. Its count is of the
    iterations started, so a loop that stops in its 6th iteration shows 6.
    """
    from tqdm import tqdm

    class Bar(tqdm):
        def __iter__(self):
            for item in self.iterable:
                self.update(1)
                yield item

    if disable or not in_notebook_kernel():
        return Bar(iterable, desc=desc, disable=disable)
    return Bar(iterable, desc=desc, file=_LiveLine(), ncols=100, mininterval=0.5)


def training_outcome(
    solved: bool,
    *,
    solved_return: float | None,
    env_steps_to_solve: int | None,
    seconds_to_solve: float | None,
    env_steps: int,
    timings: dict[str, float],
    check: str = "100 episodes",
) -> str:
    """One line for a training run: solved or not, how fast, where the time went."""
    if solved:
        outcome = (
            f"solved (average return {solved_return:.1f} over {check}) after "
            f"{env_steps_to_solve:,} environment steps in {seconds_to_solve:.1f} s"
        )
    else:
        outcome = f"not solved after {env_steps:,} environment steps"
    spent = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    return f"{outcome} ({spent})"


def benchmark_record(name: str, *, runs: bool = False) -> str:
    """Print (and return) a dated benchmark record from ``benchmarks/records/<name>.txt``.

    A record is a benchmark's own printed output, saved as it ran: the command, a line with
    the date and the machine, one line per run and the summary. Without ``runs`` the lines of
    single runs are left out. Notebooks cite measured figures this way instead of typing them.
    """
    import re

    from utils.infra.paths import REPO_ROOT

    folder = REPO_ROOT / "benchmarks" / "records"
    path = folder / f"{name}.txt"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.txt"))) or "none"
        raise FileNotFoundError(f"No benchmark record {name!r} in {folder}; known: {known}.")
    lines = path.read_text(encoding="utf-8").rstrip().splitlines()
    if not runs:
        lines = [line for line in lines if not re.search(r"\bseed\s+\d+:", line)]
    text = f"benchmarks/records/{path.name}:\n" + "\n".join(lines)
    print(text)
    return text


def show_source(obj) -> object:
    """Display the source code of a course helper in the notebook, syntax-highlighted."""
    import inspect

    from IPython.display import Code, display

    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise TypeError(f"No source available for {obj!r}: pass a function or class.") from err
    module = inspect.getmodule(obj)
    where = f"# from {module.__name__}\n" if module else ""
    code = Code(where + source, language="python")
    display(code)
    return code
