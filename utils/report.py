"""Headline figures: printed in the notebook and collected by ``make course`` for its table."""

from __future__ import annotations

import json
import os
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
