"""Tabular Q-learning of notebook 02: the Bellman backup, the TD target, ε-greedy, the loop."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from utils import exercises
from utils.agents import q_table
from utils.envs import gridworld

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def maze():
    return gridworld.GridWorld()


def test_bellman_sweeps_reach_the_discounted_shortest_path(maze):
    gamma = 0.9
    q = q_table.new_q_table(4)
    for _ in range(40):
        q = q_table.bellman_backup(q, maze, gamma)
    moves = len(maze.shortest_path())
    discounted = sum(-(gamma**k) for k in range(moves - 1)) + gamma ** (moves - 1) * 10.0
    assert q[maze.start].max() == pytest.approx(discounted)
    assert int(np.argmax(q[maze.start])) in maze.best_actions(maze.start)


def test_q_learning_target_bootstraps_unless_terminated():
    q = q_table.new_q_table(2)
    q["s"] = np.array([1.0, 3.0])
    assert q_table.q_learning_target(q, -1.0, "s", 0, False, 0.5) == pytest.approx(0.5)
    assert q_table.q_learning_target(q, -1.0, "s", 0, True, 0.5) == -1.0


def test_td_update_moves_a_fraction_alpha():
    q = q_table.new_q_table(2)
    error = q_table.td_update(q, "s", 1, 4.0, alpha=0.25)
    assert error == 4.0 and q["s"][1] == 1.0 and q["s"][0] == 0.0


def test_epsilon_greedy_breaks_ties_at_random_and_explores():
    rng = np.random.default_rng(0)
    ties = [q_table.epsilon_greedy(np.zeros(4), 0.0, rng) for _ in range(400)]
    assert set(ties) == {0, 1, 2, 3}
    greedy = [q_table.epsilon_greedy(np.array([0.0, 1.0]), 0.0, rng) for _ in range(50)]
    assert set(greedy) == {1}
    explored = [q_table.epsilon_greedy(np.array([0.0, 1.0]), 1.0, rng) for _ in range(200)]
    assert 60 < explored.count(0) < 140


def test_maze_task_truncates_at_its_step_limit(maze):
    task = q_table.MazeTask(maze, max_steps=3)
    task.reset()
    endings = [task.step(0)[2:] for _ in range(3)]  # "up" into the wall
    assert endings == [(False, False), (False, False), (False, True)]


def test_q_learning_finds_the_shortest_path(maze):
    task = q_table.MazeTask(maze)
    q, history = q_table.train(task, seed=1, **exercises.MAZE_SETTINGS)
    assert q_table.greedy_return(q, task) == maze.optimal_return()
    assert len(history["returns"]) == exercises.MAZE_SETTINGS["episodes"]
    assert history["epsilons"][0] == 1.0 and min(history["epsilons"]) == pytest.approx(0.05)


def test_the_rule_passed_in_is_the_one_that_trains(maze):
    calls = []

    def counting(*args):
        calls.append(args)
        return q_table.q_learning_target(*args)

    q_table.train(q_table.MazeTask(maze), seed=0, target_rule=counting, **exercises.MAZE_SETTINGS)
    assert len(calls) > 1000


def test_binned_cartpole_states_and_endings():
    task = q_table.BinnedCartPole(bins=4, seed=0)
    state = task.reset()
    assert len(state) == 4 and all(0 <= i < 4 for i in state)
    terminated = truncated = False
    while not (terminated or truncated):
        state, reward, terminated, truncated = task.step(0)  # always left: the pole falls
    assert terminated and not truncated and reward == 1.0


def test_the_sarsa_check_trains_with_notebook_02s_maze_settings():
    cells = json.loads((ROOT / "notebooks" / "02_q_learning.ipynb").read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("SEED"))
    assignment = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and node.targets[0].id == "MAZE"
    )
    call = assignment.value
    notebook = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    assert notebook == exercises.MAZE_SETTINGS
