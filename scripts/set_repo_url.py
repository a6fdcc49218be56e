#!/usr/bin/env python3
"""Point the course at its public repository: Colab badges, the setup cell, the bootstrap.

    python scripts/set_repo_url.py OWNER/NAME   # change the setting and rewrite everything
    python scripts/set_repo_url.py              # rewrite everything from the current setting
    python scripts/set_repo_url.py --check      # exit 1 if anything disagrees with it

The setting is ``REPO`` in utils/bootstrap.py. Every notebook's first code cell is replaced by
``bootstrap.SETUP_CELL`` and its Colab badge (under the title) is rewritten, as are the
badges in README.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import strip_notebooks  # noqa: E402

BOOTSTRAP = ROOT / "utils" / "bootstrap.py"
README = ROOT / "README.md"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
SETUP_MARKERS = ("bootstrap.setup(", "runtime.setup(")


def badge(repo: str, branch: str, notebook: str) -> str:
    """Markdown for an 'Open in Colab' badge."""
    url = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def _source(lines: str) -> list[str]:
    parts = lines.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def sync_notebook(path: Path, bootstrap) -> str:
    """Return the notebook's text with its setup cell and badge brought in line."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    title = cells[0]
    if title["cell_type"] != "markdown":
        raise SystemExit(f"{path.name}: the first cell must be the markdown title")
    text = "".join(title["source"])
    wanted = badge(bootstrap.REPO, bootstrap.BRANCH, path.name)
    if BADGE_RE.search(text):
        text = BADGE_RE.sub(lambda _: wanted, text)
    else:
        head, _, rest = text.partition("\n")
        text = f"{head}\n\n{wanted}\n{rest}"
    title["source"] = _source(text)
    code = next((c for c in cells if c["cell_type"] == "code"), None)
    if code is None or not any(m in "".join(code["source"]) for m in SETUP_MARKERS):
        raise SystemExit(f"{path.name}: the first code cell must be the setup cell")
    code["source"] = _source(bootstrap.SETUP_CELL)
    return strip_notebooks.dumps(nb)


def sync_readme(text: str, bootstrap) -> str:
    """Rewrite the README's badges (one per notebook link in its table)."""

    def fix(match: re.Match) -> str:
        notebook = re.search(r"notebooks/([^)\s]+\.ipynb)", match.group(0))
        return badge(bootstrap.REPO, bootstrap.BRANCH, notebook.group(1))

    return BADGE_RE.sub(fix, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", help="OWNER/NAME on GitHub")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on mismatch")
    args = parser.parse_args(argv)
    if args.repo:
        if args.check:
            parser.error("give either a repository or --check")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", args.repo):
            parser.error(f"expected OWNER/NAME, got {args.repo!r}")
        source = BOOTSTRAP.read_text()
        source = re.sub(r'^REPO = ".*"$', f'REPO = "{args.repo}"', source, count=1, flags=re.M)
        BOOTSTRAP.write_text(source)

    bootstrap = importlib.import_module("utils.bootstrap")
    targets = {p: sync_notebook(p, bootstrap) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    targets[README] = sync_readme(README.read_text(encoding="utf-8"), bootstrap)
    stale = [p for p, text in targets.items() if p.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)}: out of date with REPO={bootstrap.REPO!r}")
        if stale:
            print("Run `python scripts/set_repo_url.py` to rewrite them.", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path], encoding="utf-8")
        print(f"rewrote {path.relative_to(ROOT)}")
    print(f"repository: {bootstrap.REPO} ({len(stale)} file(s) changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
