"""The dependency rule of utils/ (see utils/__init__.py), read from the import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"

# What each layer may import from utils (its own layer included).
ALLOWED = {
    "infra": {"infra"},
    "envs": {"infra", "envs"},
    "rl": {"infra", "envs", "rl"},
    "agents": {"infra", "envs", "rl"},  # never another agent
    "exercises": {"infra", "envs", "rl", "agents"},  # an edge, like the notebooks
}


def layer_of(module: str) -> str:
    """``utils.agents.dqn`` -> ``agents``; ``utils.bootstrap`` counts as infrastructure."""
    parts = module.split(".")
    if parts[:2] == ["utils", "bootstrap"] or parts == ["utils"]:
        return "infra"
    return parts[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def utils_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a utils module, at any depth in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("utils")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "utils":  # from utils import envs, exercises
                found += [(node.lineno, f"utils.{a.name}") for a in node.names]
            elif node.module.startswith("utils."):
                found.append((node.lineno, node.module))
    return sorted(found)


MODULES = sorted(UTILS.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    layers = {layer_of(module_name(p)) for p in MODULES}
    assert layers <= set(ALLOWED), layers - set(ALLOWED)
    top = {p.name for p in UTILS.glob("*.py")}
    assert top == {"__init__.py", "bootstrap.py", "exercises.py"}, top


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    module = module_name(path)
    layer = layer_of(module)
    for line, imported in utils_imports(path):
        target = layer_of(imported)
        where = f"{path.relative_to(ROOT)}:{line} imports {imported}"
        assert target in ALLOWED[layer], f"{where}: the {layer} layer may not import {target}"


def test_no_agent_imports_another_and_only_the_edges_import_agents():
    importers = {}
    for path in [*MODULES, *ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")]:
        for _, imported in utils_imports(path):
            if imported.startswith("utils.agents"):
                importers.setdefault(str(path.relative_to(ROOT)), set()).add(imported)
    inside = {
        p: m for p, m in importers.items() if p.startswith("utils/") and p != "utils/exercises.py"
    }
    assert inside == {}, f"modules of utils that import an agent: {inside}"
    assert "scripts/train_dqn.py" in importers  # the edges do


def test_the_rule_is_written_down_where_it_is_enforced():
    doc = (UTILS / "__init__.py").read_text()
    assert "tests/test_layers.py" in doc and "never" in doc
    for layer in ("infra", "envs", "rl", "agents"):
        assert f"``utils.{layer}``" in doc


def test_the_checker_catches_a_sideways_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f():\n    from utils.agents.dqn_scratch import make_q_network\n"
        "from utils import envs, exercises\nimport utils.rl.replay\n"
    )
    assert utils_imports(bad) == [
        (2, "utils.agents.dqn_scratch"),
        (3, "utils.envs"),
        (3, "utils.exercises"),
        (4, "utils.rl.replay"),
    ]
    assert layer_of("utils.agents.dqn_scratch") not in ALLOWED["agents"]
