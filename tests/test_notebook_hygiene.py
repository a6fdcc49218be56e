"""Notebooks are committed clean and follow the course skeleton."""

import ast
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import export_notebooks  # noqa: E402
import strip_notebooks  # noqa: E402

import utils  # noqa: E402
from utils import bootstrap, exercises  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")


def cells(path):
    return nbformat.read(path, as_version=4).cells


def test_there_are_notebooks_numbered_from_00_without_gaps():
    numbers = [int(NAME.match(p.name).group(1)) for p in NOTEBOOKS if NAME.match(p.name)]
    assert len(numbers) == len(NOTEBOOKS), "names must look like NN_short_name.ipynb"
    assert numbers == list(range(len(numbers)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_or_counts(path):
    text = path.read_text(encoding="utf-8")
    assert '"output_type"' not in text, f"{path.name} has outputs: run `make strip`"
    assert strip_notebooks.dumps(strip_notebooks.strip(json.loads(text))) == text, (
        f"{path.name} is not stripped/normalised: run `make strip`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_nbformat_and_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_skeleton(path):
    cs = cells(path)
    number = path.name[:2]
    assert cs[0].cell_type == "markdown" and cs[0].source.startswith(f"# {number} — ")
    markdown = "\n".join(c.source for c in cs if c.cell_type == "markdown")
    for heading in (
        "**What you will learn**",
        "**Time:**",
        "## Summary",
        "## Exercises",
        "## Next steps",
        "### Check",
    ):
        assert heading in markdown, f"{path.name} lacks {heading!r}"
    code = [c.source for c in cs if c.cell_type == "code"]
    assert code[0] == bootstrap.SETUP_CELL, (
        f"{path.name}: the first code cell must be the shared setup cell: "
        "run `python scripts/set_repo_url.py`"
    )
    first_tf = next((i for i, src in enumerate(code) if "import tensorflow" in src), None)
    assert first_tf is None or first_tf > 0, "the setup cell must run before TensorFlow is imported"


def test_badges_setup_cells_and_bootstrap_agree():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "set_repo_url.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_points_at_this_notebook(path):
    title = cells(path)[0].source
    assert f"github/{bootstrap.REPO}/blob/{bootstrap.BRANCH}/notebooks/{path.name}" in title


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_assert_something(path):
    cs = cells(path)
    for i, cell in enumerate(cs):
        if cell.cell_type == "markdown" and "### Check" in cell.source:
            following = next(c for c in cs[i + 1 :] if c.cell_type == "code")
            assert "assert" in following.source, f"{path.name}: check cell without assert"


def _utils_names():
    """Every function and class defined at the top of a module of utils/ (every layer)."""
    names = set()
    for module_path in (ROOT / "utils").rglob("*.py"):
        tree = ast.parse(module_path.read_text())
        names |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_defines_what_utils_has_only_in_a_saved_cell(path):
    """A piece of utils/ may be written in a notebook only where it is taught: a cell marked
    #@save, which scripts/export_notebooks.py copies into utils (tests/test_exported_code.py
    keeps the two equal). Exercise stubs are the learner's own. Anything else is a paste."""
    helpers = _utils_names() | {"compute_avg_return", "embed_mp4"}
    stubs = {name.split(".", 1)[1] for name in exercises.SOLUTIONS}
    for cell in cells(path):
        if cell.cell_type != "code" or export_notebooks.MARK.match(cell.source.split("\n")[0]):
            continue
        defined = {
            n.name
            for n in ast.walk(ast.parse(cell.source))
            if isinstance(n, ast.FunctionDef | ast.ClassDef)
        }
        pasted = (defined & helpers) - stubs
        assert not pasted, (
            f"{path.name} defines {pasted} outside a #@save cell: import them from utils, or "
            "mark the cell that teaches them #@save and run `make export`"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_paths(path):
    text = path.read_text(encoding="utf-8")
    for pattern in ("/home/", "/root/", "/work/", "C:\\\\"):
        assert pattern not in text, f"{path.name} mentions a machine path ({pattern})"


def test_gitattributes_keeps_notebooks_lf():
    assert "*.ipynb text eol=lf" in (ROOT / ".gitattributes").read_text()


def test_utils_import_does_not_import_tensorflow():
    # The setup cell must be able to configure TensorFlow before it is loaded.
    code = (
        "import sys, utils.bootstrap, utils.infra.runtime, utils.infra.report, utils.infra.paths; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
    assert inspect.getdoc(utils)


# A number with a unit of time or speed, e.g. "6.6 s", "2–3 minutes", "54 steps/s", "37x faster".
MEASURED = re.compile(
    r"(?<![\w.])\d[\d,.\u202f ]*(?:[–-]\s?\d[\d,.]*)?\s?"
    r"(?:(?:s|sec|seconds?|minutes?|min|ms|µs|hours?)\b|(?:M )?steps?(?:/s| per second)"
    r"|(?:x|×|times) (?:faster|slower|the speed))",
    re.IGNORECASE,
)
# Not measurements: CartPole's time step (a constant of the physics).
CONSTANTS = {"0.02 s"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_measured_figures_are_printed_not_typed(path):
    """Times and speeds come from the run (a cell prints them) or from a benchmark record the
    notebook prints (report.benchmark_record), the overview's **Time:** line included."""
    typed = []
    for cell in cells(path):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            typed += [m.group(0) for m in MEASURED.finditer(line) if m.group(0) not in CONSTANTS]
    assert not typed, (
        f"{path.name} types measured figures into its text: {typed}. Print them from a cell, "
        "or cite a benchmark record with report.benchmark_record."
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_last_cell_prints_how_long_the_run_took(path):
    """The overview's **Time:** line points to this cell instead of typing an estimate."""
    last = cells(path)[-1]
    assert last.cell_type == "code" and last.source.strip() == "report.notebook_time();", (
        f"{path.name} should end with a code cell `report.notebook_time();`"
    )
    overview = cells(path)[0].source
    assert "**Time:**" in overview and "last cell" in overview, (
        f"{path.name}: say in the overview's **Time:** line that the last cell prints the time"
    )


def test_the_measured_figure_rule_catches_typed_figures():
    for text in ("a median of 6.6 s", "takes 2–3 minutes", "54 steps/s", "37 times faster"):
        assert MEASURED.search(text), text
    for text in ("every 1 000 steps", "CartPole-v1", "256 × 256", "γ = 0.99"):
        assert not MEASURED.search(text), text
