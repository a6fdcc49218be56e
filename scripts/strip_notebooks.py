#!/usr/bin/env python3
"""Strip outputs, execution counts and run-time metadata from notebooks (standard library only).

    python scripts/strip_notebooks.py notebooks/*.ipynb          # rewrite in place
    python scripts/strip_notebooks.py --check notebooks/*.ipynb  # exit 1 if any would change

Notebooks are stored as nbformat writes them: one-space indent, keys sorted, newline at end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Cell metadata a notebook front end adds while running; nothing the course relies on.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
VOLATILE_NB_METADATA = ("widgets", "varInspector", "toc")


def strip(nb: dict) -> dict:
    """Return the notebook without outputs, execution counts and volatile metadata."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in VOLATILE_CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
    for key in VOLATILE_NB_METADATA:
        nb.get("metadata", {}).pop(key, None)
    return nb


def dumps(nb: dict) -> str:
    """Serialise the way nbformat does (stable diffs)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebook files")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if dirty")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.notebooks:
        text = path.read_text(encoding="utf-8")
        clean = dumps(strip(json.loads(text)))
        if clean != text:
            dirty.append(path)
            if not args.check:
                path.write_text(clean, encoding="utf-8")
    verb = "need stripping" if args.check else "stripped"
    for path in dirty:
        print(f"{path}: {verb}")
    if args.check and dirty:
        print("Run `make strip` to remove outputs before committing.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
