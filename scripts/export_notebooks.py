#!/usr/bin/env python3
"""Copy the notebook cells marked ``#@save`` into the modules of ``utils/`` (standard library).

    python scripts/export_notebooks.py          # rewrite the generated blocks (make export)
    python scripts/export_notebooks.py --check  # exit 1 if a module disagrees with its notebook

A notebook that teaches a piece of an algorithm defines it in its own cell, whose first line
is ``#@save`` (or ``#@save utils/agents/ppo.py`` to name another module than the notebook's
usual one, listed in ``TARGETS``). Those cells, in notebook order, form one block of the
module, between a BEGIN and an END line that name the notebook. The notebook is the source:
edit the cell, then run ``make export``. The tests fail while the two disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# Where a notebook's #@save cells go unless the mark names another module.
TARGETS = {
    "02_q_learning": "utils/agents/q_table.py",
    "03_dqn_tf_agents": "utils/agents/dqn.py",
    "06_custom_environment": "utils/envs/gridworld.py",
    "07_dqn_from_scratch": "utils/agents/dqn_scratch.py",
    "08_actor_critic": "utils/agents/actor_critic.py",
    "09_training_fast": "utils/agents/fast_dqn.py",
    "10_continuous_control": "utils/agents/continuous.py",
    "11_checkpoints": "utils/rl/checkpoints.py",
    "12_distributed": "utils/rl/distributed.py",
}
MARK = re.compile(r"^#@save(?:[ \t]+(?P<target>\S+))?[ \t]*$")


def begin_line(notebook: str) -> str:
    return (
        f"# BEGIN generated from notebooks/{notebook}.ipynb, its cells marked #@save.\n"
        "# Edit those cells, not this block, then run `make export`."
    )


def end_line(notebook: str) -> str:
    return f"# END generated from notebooks/{notebook}.ipynb"


def saved_cells(path: Path) -> dict[str, list[str]]:
    """``{module: [cell source without its mark, ...]}`` for one notebook, in cell order."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found: dict[str, list[str]] = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        first, _, rest = source.partition("\n")
        match = MARK.match(first)
        if not match:
            continue
        target = match["target"] or TARGETS.get(path.stem)
        if target is None:
            raise SystemExit(
                f"{path.name} has a #@save cell but no module to save it to: write the module "
                f"after the mark (#@save utils/...) or add the notebook to TARGETS in {__file__}."
            )
        found.setdefault(target, []).append(rest.strip("\n"))
    return found


def block(notebook: str, sources: list[str]) -> str:
    """The generated block: BEGIN line, the cells separated by two blank lines, END line."""
    body = "\n\n\n".join(sources)
    return f"{begin_line(notebook)}\n\n\n{body}\n\n\n{end_line(notebook)}\n"


def exports() -> dict[Path, list[tuple[str, str]]]:
    """``{module path: [(notebook stem, generated block), ...]}`` for every notebook."""
    result: dict[Path, list[tuple[str, str]]] = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for target, sources in saved_cells(path).items():
            result.setdefault(ROOT / target, []).append((path.stem, block(path.stem, sources)))
    return result


def updated(module: Path, blocks: list[tuple[str, str]]) -> str:
    """The module's text with each notebook's block replaced by the notebook's cells."""
    if not module.exists():
        raise SystemExit(f"{module.relative_to(ROOT)} does not exist: create it first.")
    text = module.read_text(encoding="utf-8")
    for notebook, new in blocks:
        begin, end = begin_line(notebook), end_line(notebook)
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise SystemExit(
                f"{module.relative_to(ROOT)} has no block for notebooks/{notebook}.ipynb: "
                f"add the two lines\n{begin}\n{end}\nwhere its code belongs."
            )
        stop += len(end) + 1  # the END line and its newline
        text = text[:start] + new + text[stop:]
    return text


def stale() -> dict[Path, str]:
    """``{module: its text as the notebooks make it}`` for each module that differs today."""
    found = {}
    for module, blocks in exports().items():
        text = updated(module, blocks)
        if text != module.read_text(encoding="utf-8"):
            found[module] = text
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if stale")
    args = parser.parse_args(argv)
    modules = stale()
    if args.check and modules:
        names = ", ".join(str(m.relative_to(ROOT)) for m in modules)
        print(f"{names} disagree with the notebooks' #@save cells: run `make export`.")
        return 1
    for module, text in modules.items():
        module.write_text(text, encoding="utf-8")
        print(f"updated {module.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
