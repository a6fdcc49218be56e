"""Headline figures (printed in the notebook, collected by ``make course``) and run timings."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path

RESULTS_ENV = "COURSE_RESULTS"


def notebook_time() -> float | None:
    """Print how long the notebook has run since its setup cell; return the seconds.

    The figure each notebook's header points to: measured by the run, not typed into prose.
    """
    from utils import bootstrap

    if bootstrap.STARTED is None:
        print("The setup cell has not run in this kernel: run it first, then the notebook.")
        return None
    seconds = time.monotonic() - bootstrap.STARTED
    print(
        f"This notebook ran for {seconds:.0f} s since its setup cell, on {os.cpu_count()} CPU "
        "cores (time spent reading between cells counts too)."
    )
    return seconds


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


def update_bar(bar, postfix: dict, *, close: bool = False) -> None:
    """Show ``postfix`` on a ``progress_bar``; ``close=True`` shows it once more and ends the bar.

    A loop that stops early (solved) leaves its bar short of its total: closing sets the
    total to the iterations run, so the finished bar reads complete, with no time left.
    """
    if close:
        bar.total = bar.n
    bar.set_postfix(postfix, refresh=close)
    if close:
        bar.close()


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


def record_lines(name: str) -> list[str]:
    """The lines of the dated benchmark record ``benchmarks/records/<name>.txt``."""
    from utils.infra.paths import REPO_ROOT

    folder = REPO_ROOT / "benchmarks" / "records"
    path = folder / f"{name}.txt"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.txt"))) or "none"
        raise FileNotFoundError(f"No benchmark record {name!r} in {folder}; known: {known}.")
    return path.read_text(encoding="utf-8").rstrip().splitlines()


def is_run_line(line: str) -> bool:
    """Whether a record's line reports one run (one seed of one setting)."""
    return re.search(r"\bseed\s+\d+:", line) is not None


def benchmark_record(
    name: str,
    *,
    runs: bool = False,
    settings: Iterable[str] | None = None,
    rename: dict[str, str] | None = None,
) -> str:
    """Print (and return) a dated benchmark record from ``benchmarks/records/<name>.txt``.

    A record is a benchmark's own printed output, saved as it ran: the command, a line with
    the date and the machine, one line per run and the summary. Without ``runs`` the lines of
    single runs are left out. Notebooks cite measured figures this way instead of typing them.
    ``settings`` keeps only those settings' runs and summaries; ``rename`` prints settings
    under other names (e.g. a record's ``course`` under the name it has today), says so in a
    last line, and leaves the command line as it was typed.
    """
    lines = record_lines(name)
    if not runs:
        lines = [line for line in lines if not is_run_line(line)]
    if settings is not None:
        keep, kept, current = set(settings), [], None
        for line in lines:
            head = re.match(r"^(\S+): solved", line) or re.match(r"^\s*(\S+) seed\s+\d+:", line)
            if head:
                current = head.group(1)
            elif not line.strip() or not line.startswith(" "):
                current = None
            if current is None or current in keep:
                kept.append(line)
        lines = kept
    if rename:
        for old, new in rename.items():
            word = re.compile(rf"(?<![\w-]){re.escape(old)}(?![\w-])")
            lines = [line if line.startswith("$") else word.sub(new, line) for line in lines]
        names = ", ".join(f"{old} as {new}" for old, new in rename.items())
        lines.append(f"(settings printed under today's names: {names})")
    text = f"benchmarks/records/{name}.txt:\n" + "\n".join(lines)
    print(text)
    return text


def record_runs(name: str) -> list[dict]:
    """A record's single runs: ``[{"setting", "seed", "solved", "env_steps", "seconds", "line"}]``.

    ``env_steps`` and ``seconds`` are those to solve, or the run's totals when it did not.
    """
    runs = []
    for line in record_lines(name):
        found = re.match(
            r"^\s*(\S+) seed\s+(\d+): (solved|NOT solved)\b.*?([\d,]+) env steps"
            r"\s*\|\s*([\d.]+) s\b",
            line,
        )
        if found:
            setting, seed, status, steps, seconds = found.groups()
            runs.append(
                {
                    "setting": setting,
                    "seed": int(seed),
                    "solved": status == "solved",
                    "env_steps": int(steps.replace(",", "")),
                    "seconds": float(seconds),
                    "line": line,
                }
            )
    return runs


def record_summaries(name: str) -> dict[str, dict[str, float]]:
    """A record's summary figures, per setting: ``{setting: {"median env steps to solve": ...}}``.

    Read from the summary blocks (a line ``setting: solved ...`` or ``setting: median of ...``,
    then ``  label: number`` lines), so that a notebook can compute with the figures it cites
    instead of typing them.
    """
    summaries: dict[str, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for line in record_lines(name):
        head = re.match(r"^(\S+): (?:solved|median of)", line)
        if head:
            current = summaries.setdefault(head.group(1), {})
            continue
        figure = re.match(r"^\s+([^:]+?):\s+([\d,.]+(?:e[+-]?\d+)?)", line)
        if current is not None and figure and not is_run_line(line):
            current[figure.group(1).strip()] = float(figure.group(2).replace(",", ""))
        elif not line.strip():
            current = None
    return summaries


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
