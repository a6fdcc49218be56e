#!/usr/bin/env python3
"""Execute the course notebooks in order, headless, and print a summary table.

    python scripts/run_course.py notebooks/*.ipynb

Executed notebooks go to build/notebooks/, HTML copies to build/html/, and everything the
notebooks write themselves (plots, videos, GIFs) to build/<notebook>/. A failing notebook
makes the command exit 1 and the table names the cell that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.infra.paths import build_dir  # noqa: E402
from utils.infra.report import RESULTS_ENV  # noqa: E402


@dataclass
class Outcome:
    """How one notebook went."""

    name: str
    seconds: float
    status: str
    headline: str


def _failing_cell(nb) -> str:
    """Describe the first cell whose outputs hold an error."""
    for index, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                return (
                    f"cell {index} [{first_line[:40]}]: {output.get('ename')}: "
                    f"{str(output.get('evalue'))[:120]}"
                )
    return "unknown cell"


def run_notebook(path: Path, timeout: int) -> Outcome:
    """Execute one notebook and save the executed copy and its HTML rendering."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
    from nbconvert import HTMLExporter

    results = build_dir("results") / f"{path.stem}.json"
    results.unlink(missing_ok=True)
    os.environ[RESULTS_ENV] = str(results)

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except CellTimeoutError:
        status = f"FAILED: timeout after {timeout} s in {_running_cell(nb)}"
    except CellExecutionError:
        status = f"FAILED: {_failing_cell(nb)}"
    except Exception as err:  # kernel died, notebook unreadable ...
        status = f"FAILED: {type(err).__name__}: {err}"
    seconds = time.perf_counter() - start

    nbformat.write(nb, build_dir("notebooks") / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (build_dir("html") / f"{path.stem}.html").write_text(html, encoding="utf-8")

    headline = ""
    if results.exists():
        entries = json.loads(results.read_text())
        headline = "; ".join(f"{e['label']}: {e['value']}" for e in entries)
    return Outcome(path.stem, seconds, status, headline)


def _running_cell(nb) -> str:
    """Describe the last cell that started executing."""
    started = [
        i for i, c in enumerate(nb.cells, start=1) if c.cell_type == "code" and c.get("outputs")
    ]
    return f"cell {started[-1] + 1 if started else 1}"


def print_table(outcomes: list[Outcome]) -> None:
    """Print the summary as a plain-text table."""
    rows = [("notebook", "wall time", "status", "headline")]
    rows += [(o.name, f"{o.seconds:.0f} s", o.status, o.headline) for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print()
    for n, row in enumerate(rows):
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3]
        )
        if n == 0:
            print("  ".join("-" * w for w in widths) + "  " + "-" * 8)
    total = sum(o.seconds for o in outcomes)
    print(f"\n{len(outcomes)} notebooks in {total:.0f} s; outputs in {build_dir()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks, run in this order")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    outcomes = []
    for path in args.notebooks:
        print(f"running {path.name} ...", flush=True)
        outcome = run_notebook(path, args.timeout)
        print(f"  {outcome.status} in {outcome.seconds:.0f} s", flush=True)
        outcomes.append(outcome)
    print_table(outcomes)
    failed = [o.name for o in outcomes if o.status != "ok"]
    if failed:
        print(f"\n{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
