"""The pieces a notebook teaches (its #@save cells) and their copies in utils/ agree."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import export_notebooks  # noqa: E402


def test_every_module_matches_the_cells_it_was_generated_from():
    stale = {str(module.relative_to(ROOT)) for module in export_notebooks.stale()}
    assert not stale, f"{stale} disagree with the notebooks' #@save cells: run `make export`"


def test_notebook_07_is_the_source_of_the_from_scratch_pieces():
    cells = export_notebooks.saved_cells(ROOT / "notebooks" / "07_dqn_from_scratch.ipynb")
    source = "\n".join(cells["utils/agents/dqn_scratch.py"])
    for name in ("ReplayBuffer", "td_target", "train_step", "DQNAgent", "train"):
        assert f"def {name}(" in source or f"class {name}" in source, name
    # The loss of each TD error is shared with notebook 09, so it is saved to the rl layer.
    assert "def elementwise_loss(" in "\n".join(cells["utils/rl/losses.py"])


def test_an_edited_cell_makes_the_module_stale(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    source = ROOT / "notebooks" / "07_dqn_from_scratch.ipynb"
    nb = json.loads(source.read_text(encoding="utf-8"))
    saved = [c for c in nb["cells"] if "".join(c["source"]).startswith("#@save")]
    saved[0]["source"].append("\nSTEP = 1  # a learner's edit\n")
    (notebooks / source.name).write_text(json.dumps(nb), encoding="utf-8")
    module = tmp_path / "utils" / "agents" / "dqn_scratch.py"
    module.parent.mkdir(parents=True)
    original = (ROOT / "utils" / "agents" / "dqn_scratch.py").read_text(encoding="utf-8")
    module.write_text(original, encoding="utf-8")
    losses = tmp_path / "utils" / "rl" / "losses.py"  # notebook 07 also saves a cell there
    losses.parent.mkdir(parents=True)
    losses.write_text((ROOT / "utils" / "rl" / "losses.py").read_text(encoding="utf-8"))
    monkeypatch.setattr(export_notebooks, "ROOT", tmp_path)
    monkeypatch.setattr(export_notebooks, "NOTEBOOKS", notebooks)

    assert export_notebooks.main(["--check"]) == 1  # stale: the check fails ...
    assert module.read_text(encoding="utf-8") == original  # ... and writes nothing
    assert export_notebooks.main([]) == 0  # make export rewrites the block
    updated = module.read_text(encoding="utf-8")
    assert "STEP = 1  # a learner's edit" in updated
    assert updated.split("# BEGIN")[0] == original.split("# BEGIN")[0]  # the rest is kept
    assert updated.split("# END")[1] == original.split("# END")[1]
    assert export_notebooks.main(["--check"]) == 0


def test_a_module_without_its_block_gets_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(export_notebooks, "ROOT", tmp_path)
    module = tmp_path / "plain.py"
    module.write_text('"""No generated block here."""\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"has no block for notebooks/05_x\.ipynb"):
        export_notebooks.updated(module, [("05_x", "code\n")])
