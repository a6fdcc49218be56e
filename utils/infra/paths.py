"""Where the course writes files: everything goes under the repository's ``build/`` folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # utils/infra/paths.py -> the repository
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def build_dir(*parts: str) -> Path:
    """Return ``build/<parts>`` (created if missing); ``COURSE_BUILD_DIR`` overrides the root."""
    root = Path(os.environ.get("COURSE_BUILD_DIR", REPO_ROOT / "build"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
