"""Tests for utils.envs.gridworld: specs, dynamics, rewards, rendering, registration."""

import re
from collections import deque

import gym
import numpy as np
import pytest
from tf_agents.environments import suite_gym, utils
from tf_agents.policies import random_py_policy

from utils.envs import gridworld
from utils.rl.evaluation import evaluate

UP, DOWN, LEFT, RIGHT = range(4)


def play(env, actions):
    """Reset, then take ``actions``; return every time step after the reset."""
    env.reset()
    return [env.step(np.int64(a)) for a in actions]


def cell_of(observation, cols=6):
    (index,) = np.flatnonzero(observation)
    return divmod(int(index), cols)


def bfs_length(layout):
    """Fewest moves from S to G, computed independently of the module."""
    grid = [row.replace(" ", "") for row in layout]
    find = {ch: (r, c) for r, row in enumerate(grid) for c, ch in enumerate(row) if ch in "SG"}
    dist = {find["S"]: 0}
    queue = deque([find["S"]])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            ok = 0 <= nr < len(grid) and 0 <= nc < len(grid[0]) and grid[nr][nc] != "#"
            if ok and (nr, nc) not in dist:
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist[find["G"]]


def test_passes_tf_agents_validation():
    env = gridworld.GridWorldPyEnv()
    utils.validate_py_environment(env, episodes=5)
    assert env.action_spec().dtype == np.int64
    assert (env.action_spec().minimum, env.action_spec().maximum) == (0, 3)
    assert env.observation_spec().shape == (36,)
    assert env.observation_spec().dtype == np.float32


def test_reset_puts_the_agent_on_the_start_one_hot():
    time_step = gridworld.GridWorldPyEnv().reset()
    assert time_step.is_first()
    assert time_step.observation.sum() == 1.0
    assert cell_of(time_step.observation) == (0, 0)


def test_transitions_are_deterministic():
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 4, size=40)
    first = play(gridworld.GridWorldPyEnv(), actions)
    second = play(gridworld.GridWorldPyEnv(), actions)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.observation, b.observation)
        assert a.reward == b.reward and a.step_type == b.step_type


def test_walls_and_edges_block_moves():
    env = gridworld.GridWorldPyEnv()
    (edge,) = play(env, [UP])
    assert cell_of(edge.observation) == (0, 0)
    steps = play(env, [RIGHT, DOWN])  # (0, 1) has a wall below it
    assert cell_of(steps[-1].observation) == (0, 1)
    assert steps[-1].reward == gridworld.STEP_REWARD
    world = gridworld.GridWorld()
    assert world.move((2, 3), RIGHT) == (2, 3)  # wall at (2, 4)
    assert world.move((2, 3), LEFT) == (2, 2)


def test_episode_ends_at_the_goal_with_discount_zero():
    env = gridworld.GridWorldPyEnv()
    path = gridworld.GridWorld().shortest_path()
    steps = play(env, path)
    assert [s.is_last() for s in steps] == [False] * (len(path) - 1) + [True]
    assert [float(s.reward) for s in steps] == [-1.0] * (len(path) - 1) + [10.0]
    assert steps[-1].discount == 0.0
    assert cell_of(steps[-1].observation) == gridworld.GridWorld().goal
    assert env.step(np.int64(0)).is_first()  # auto-reset


def test_truncation_at_the_step_limit_keeps_discount_one():
    env = gridworld.GridWorldPyEnv(max_steps=7)
    steps = play(env, [UP] * 7)
    assert [s.is_last() for s in steps] == [False] * 6 + [True]
    assert steps[-1].discount == 1.0
    assert sum(float(s.reward) for s in steps) == -7.0


def test_render_draws_the_grid():
    env = gridworld.GridWorldPyEnv()
    env.reset()
    frame = env.render()
    assert frame.shape == (6 * 40, 6 * 40, 3) and frame.dtype == np.uint8
    play(env, [DOWN])
    assert not np.array_equal(env.render(), frame)  # the agent moved
    with pytest.raises(ValueError, match="rgb_array"):
        env.render("human")


def test_optimal_return_matches_a_bfs():
    moves = bfs_length(gridworld.LAYOUT)
    assert gridworld.OPTIMAL_STEPS == moves == 10
    assert gridworld.GOAL_REWARD + (moves - 1) * gridworld.STEP_REWARD == gridworld.OPTIMAL_RETURN
    steps = play(gridworld.GridWorldPyEnv(), gridworld.GridWorld().shortest_path())
    assert sum(float(s.reward) for s in steps) == gridworld.OPTIMAL_RETURN == 1.0


def test_random_policy_is_clearly_worse_than_optimal():
    env = gridworld.GridWorldPyEnv()
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    result = evaluate(env, policy, num_episodes=50)
    assert result.mean < gridworld.OPTIMAL_RETURN - 30


def test_custom_layouts_and_clear_errors():
    small = ("S.#", "..G")
    assert gridworld.optimal_return(small) == gridworld.GOAL_REWARD + 2 * gridworld.STEP_REWARD
    env = gridworld.GridWorldPyEnv(layout=small)
    utils.validate_py_environment(env, episodes=3)
    with pytest.raises(ValueError, match="exactly one goal"):
        gridworld.GridWorld(("S..", "..."))
    with pytest.raises(ValueError, match="cannot be reached"):
        gridworld.GridWorld(("S#G",))
    with pytest.raises(ValueError, match="same"):
        gridworld.GridWorld(("S..", "G"))
    with pytest.raises(ValueError, match="Unknown layout"):
        gridworld.GridWorld(("S.x", "..G"))
    with pytest.raises(ValueError, match="out of range"):
        play(env, [7])
    with pytest.raises(ValueError, match="max_steps"):
        gridworld.GridWorldPyEnv(max_steps=0)


def test_gym_env_and_py_env_agree_step_by_step():
    py_env = gridworld.GridWorldPyEnv(max_steps=1000)
    gym_env = gridworld.GridWorldGymEnv()
    wander = list(np.random.default_rng(1).integers(0, 4, size=30))
    for actions in (wander, gridworld.GridWorld().shortest_path()):
        py_step = py_env.reset()
        np.testing.assert_array_equal(gym_env.reset(), py_step.observation)
        for action in actions:
            py_step = py_env.step(np.int64(action))
            obs, reward, done, info = gym_env.step(int(action))
            np.testing.assert_array_equal(obs, py_step.observation)
            assert reward == float(py_step.reward)
            assert done == bool(py_step.is_last())
            assert info["cell"] == py_env.cell
            np.testing.assert_array_equal(gym_env.render(), py_env.render())
    assert done and gym_env.cell == gridworld.GridWorld().goal
    with pytest.raises(RuntimeError, match="reset"):
        gym_env.step(0)


def test_gym_env_follows_the_gym_api():
    env = gridworld.GridWorldGymEnv()
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.observation_space.shape == (36,)
    obs, info = env.reset(seed=3, return_info=True)
    assert env.observation_space.contains(obs) and info == {}
    assert env.metadata["render_fps"] == env.metadata["video.frames_per_second"] > 0
    assert "rgb_array" in env.metadata["render_modes"]
    with pytest.raises(RuntimeError, match="reset"):
        gridworld.GridWorldGymEnv().step(0)


def test_registration_is_idempotent_and_loads_by_name():
    spec = gridworld.register_gridworld()
    assert gridworld.register_gridworld() is spec  # re-running the cell is fine
    assert spec.max_episode_steps == gridworld.MAX_STEPS
    assert spec.reward_threshold == gridworld.OPTIMAL_RETURN
    assert gym.spec("GridWorld-v0").entry_point == "utils.envs.gridworld:GridWorldGymEnv"

    env = suite_gym.load("GridWorld-v0")
    assert env.observation_spec().shape == (36,)
    assert env.action_spec().maximum == 3
    steps = play(env, [UP] * gridworld.MAX_STEPS)
    assert [bool(s.is_last()) for s in steps].index(True) == gridworld.MAX_STEPS - 1
    steps = play(env, gridworld.GridWorld().shortest_path())
    assert sum(float(s.reward) for s in steps) == gridworld.OPTIMAL_RETURN
    assert steps[-1].is_last()


def test_registration_with_other_settings_replaces_the_old_one():
    env_id = "GridWorldTest-v0"
    gridworld.register_gridworld(env_id, max_episode_steps=20)
    spec = gridworld.register_gridworld(
        env_id, max_episode_steps=12, reward_threshold=0.0, layout=("S.", ".G")
    )
    assert (spec.max_episode_steps, spec.reward_threshold) == (12, 0.0)
    assert gym.spec(env_id).max_episode_steps == 12
    env = suite_gym.load(env_id)
    assert env.observation_spec().shape == (4,)
    with pytest.raises(ValueError, match="env_id"):
        gridworld.register_gridworld("")


def test_moves_to_goal_and_best_actions_follow_the_shortest_path():
    world = gridworld.GridWorld()
    distance = world.moves_to_goal()
    assert distance[world.start] == len(world.shortest_path()) == gridworld.OPTIMAL_STEPS
    assert distance[world.goal] == 0 and not world.best_actions(world.goal)
    assert set(distance) == {*world.floor_cells(), world.goal}  # every floor cell reaches it
    cell = world.start
    for action in world.shortest_path():  # every step of a shortest path is a best action
        assert action in world.best_actions(cell)
        cell = world.move(cell, action)
    assert cell == world.goal
    assert world.best_actions((0, 0)) == {1}  # from the start: down (right is a dead end)
    assert world.goal not in world.floor_cells() and (1, 1) not in world.floor_cells()


def test_draw_actions_colours_good_and_bad_arrows(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    world = gridworld.GridWorld()
    actions = {cell: min(world.best_actions(cell) or {0}) for cell in world.floor_cells()}
    actions[world.start] = 3  # right: into the dead end, not a shortest path
    figure = world.draw_actions(actions, path=tmp_path / "arrows.png")
    arrows = [t for t in figure.axes[0].texts if getattr(t, "arrow_patch", None) is not None]
    colours = [a.arrow_patch.get_edgecolor() for a in arrows]
    assert len(colours) == len(world.floor_cells())
    letters = sorted(t.get_text() for t in figure.axes[0].texts if t not in arrows)
    assert letters == ["G", "S"]
    orange = matplotlib.colors.to_rgba("tab:orange")
    assert sum(tuple(c) == orange for c in colours) == 1  # only the start's arrow is wrong
    assert (tmp_path / "arrows.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="out of range"):
        world.draw_actions({world.start: 7})


def test_notebook_06_is_the_source_of_the_rules_and_the_environments():
    import json
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "scripts"))
    import export_notebooks

    notebook = root / "notebooks" / "06_custom_environment.ipynb"
    cells = export_notebooks.saved_cells(notebook)["utils/envs/gridworld.py"]
    source = "\n".join(cells)
    for name in ("GridWorld", "GridWorldPyEnv", "GridWorldGymEnv"):
        assert f"class {name}(" in source, name
    assert "def register_gridworld(" in source
    assert all(len(cell.splitlines()) <= 32 for cell in cells)  # short cells, one idea each
    code = [
        "".join(c["source"])
        for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        if c["cell_type"] == "code"
    ]
    # The grid world is defined in the notebook, never shown from utils/; the only source
    # shown is the Gymnasium adapter's, which is a library tool rather than the lesson.
    shown = [m for c in code for m in re.findall(r"show_source\(([^)]*)\)", c)]
    assert all(target.startswith("gymnasium_env.") for target in shown), shown


def test_the_base_class_follows_the_rules_a_subclass_writes():
    class Costly(gridworld.GridWorld):
        """Bumping into a wall or an edge costs 5 instead of 1."""

        def step(self, cell, action):
            nxt, reward, at_goal = super().step(cell, action)
            return nxt, (-5.0 if nxt == cell else reward), at_goal

    world = Costly()
    assert world.shortest_path() == gridworld.GridWorld().shortest_path()
    assert world.optimal_return() == gridworld.OPTIMAL_RETURN  # a shortest path never bumps
    assert world.step(world.start, UP) == (world.start, -5.0, False)
    assert world.num_cells == 36 and world.observation(world.goal).sum() == 1.0


def test_check_layout_accepts_new_symbols_when_asked():
    assert gridworld.check_layout(["S L .", ". . G"], symbols="SG#.L") == ("SL.", "..G")
    with pytest.raises(ValueError, match="Unknown layout"):
        gridworld.check_layout(["SL", ".G"])
    with pytest.raises(ValueError, match="exactly one start"):
        gridworld.check_layout(["SS", ".G"])
    with pytest.raises(ValueError, match="sequence of equal-length strings"):
        gridworld.check_layout("S.G")


def test_registration_accepts_the_class_itself_and_a_new_class_replaces_it():
    env_id = "GridWorldClassEntry-v0"
    spec = gridworld.register_gridworld(env_id, entry_point=gridworld.GridWorldGymEnv)
    assert spec.entry_point is gridworld.GridWorldGymEnv
    assert gridworld.register_gridworld(env_id, entry_point=gridworld.GridWorldGymEnv) is spec

    class Edited(gridworld.GridWorldGymEnv):  # a learner re-ran the class's cell
        pass

    again = gridworld.register_gridworld(env_id, entry_point=Edited)
    assert again is not spec and gym.spec(env_id).entry_point is Edited
    assert isinstance(gym.make(env_id).unwrapped, Edited)
    with pytest.raises(ValueError, match="max_episode_steps"):
        gridworld.register_gridworld(env_id, max_episode_steps=0)


def test_rendering_needs_a_reset_and_the_rgb_array_mode():
    env = gridworld.GridWorldGymEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.render()
    env.reset()
    assert env.render().shape == (240, 240, 3)
    with pytest.raises(ValueError, match="rgb_array"):
        env.render("human")
