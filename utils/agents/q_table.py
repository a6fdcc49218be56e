"""Tabular Q-learning: a Q-table, the Bellman backup, the TD target, ε-greedy, the loop.

Taught in notebook 02, on the maze of ``utils.envs.gridworld`` and on a binned CartPole. A
task has ``reset() -> state`` and ``step(action) -> (state, reward, terminated, truncated)``
with hashable states; the table maps each visited state to one value per action.
"""

from __future__ import annotations

import collections

import numpy as np

from utils import envs
from utils.envs import CARTPOLE_OBSERVATION_SCALE, gridworld

# BEGIN generated from notebooks/02_q_learning.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


class MazeTask:
    """The maze as episodes: states are cells; the goal terminates, `max_steps` truncates."""

    def __init__(self, maze, max_steps=gridworld.MAX_STEPS):
        self.maze, self.max_steps = maze, max_steps
        self.num_actions = len(gridworld.ACTIONS)

    def reset(self):
        """Start an episode; return the first state."""
        self.cell, self.moves = self.maze.start, 0
        return self.cell

    def step(self, action):
        """Move; return (next state, reward, terminated, truncated)."""
        self.cell, reward, terminated = self.maze.step(self.cell, action)
        self.moves += 1
        truncated = not terminated and self.moves >= self.max_steps
        return self.cell, reward, terminated, truncated


def new_q_table(num_actions):
    """An empty Q-table: state -> one value per action, zeros until the state is seen."""
    return collections.defaultdict(lambda: np.zeros(num_actions))


def bellman_backup(q, maze, gamma):
    """One sweep of the Bellman equation over every cell and action, using the rules."""
    new_q = new_q_table(len(gridworld.ACTIONS))
    for cell in maze.floor_cells():
        for action in range(len(gridworld.ACTIONS)):
            next_cell, reward, terminated = maze.step(cell, action)
            future = 0.0 if terminated else gamma * q[next_cell].max()
            new_q[cell][action] = reward + future
    return new_q


def q_learning_target(q, reward, next_state, next_action, terminated, gamma):
    """Q-learning's TD target: reward plus the discounted value of the best next action."""
    if terminated:
        return reward
    return reward + gamma * q[next_state].max()


def td_update(q, state, action, target, alpha):
    """Move Q(state, action) a fraction alpha towards target; return the TD error."""
    error = target - q[state][action]
    q[state][action] += alpha * error
    return error


def epsilon_greedy(q_row, epsilon, rng):
    """A random action with probability epsilon, else a greedy one (ties broken at random)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    return int(rng.choice(np.flatnonzero(q_row == q_row.max())))


def run_episode(q, task, *, epsilon, alpha, gamma, rng, target_rule=q_learning_target):
    """Play one ε-greedy episode, updating the table after every move; return (return, moves)."""
    state, episode_return, moves = task.reset(), 0.0, 0
    action = epsilon_greedy(q[state], epsilon, rng)
    while True:
        next_state, reward, terminated, truncated = task.step(action)
        next_action = epsilon_greedy(q[next_state], epsilon, rng)
        target = target_rule(q, reward, next_state, next_action, terminated, gamma)
        td_update(q, state, action, target, alpha)
        state, action = next_state, next_action
        episode_return, moves = episode_return + reward, moves + 1
        if terminated or truncated:
            return episode_return, moves


def train(
    task,
    *,
    episodes,
    alpha,
    gamma,
    epsilon_start,
    epsilon_end,
    epsilon_decay,
    seed,
    target_rule=q_learning_target,
):
    """Learn a Q-table on `task` with ε-greedy episodes; return it and per-episode history."""
    rng = np.random.default_rng(seed)
    q = new_q_table(task.num_actions)
    history = {"returns": [], "epsilons": [], "moves": []}
    epsilon = epsilon_start
    for _ in range(episodes):
        settings = dict(epsilon=epsilon, alpha=alpha, gamma=gamma, rng=rng)
        episode_return, moves = run_episode(q, task, target_rule=target_rule, **settings)
        history["returns"].append(episode_return)
        history["epsilons"].append(epsilon)
        history["moves"].append(moves)
        epsilon = max(epsilon_end, epsilon * epsilon_decay)
    return q, history


def greedy_return(q, task):
    """The return of one episode that always takes the action with the largest value."""
    state, episode_return = task.reset(), 0.0
    while True:
        state, reward, terminated, truncated = task.step(int(np.argmax(q[state])))
        episode_return += reward
        if terminated or truncated:
            return episode_return


class BinnedCartPole:
    """CartPole-v1 for a table: each of its four numbers cut into `bins` intervals."""

    def __init__(self, bins, seed=0):
        self.env = envs.make_env("CartPole-v1", seed=seed)  # Gymnasium (notebook 00)
        self.edges = [np.linspace(-x, x, bins + 1)[1:-1] for x in CARTPOLE_OBSERVATION_SCALE]
        self.num_actions = 2

    def state(self, observation):
        """The interval index of each of the four numbers."""
        pairs = zip(observation, self.edges, strict=True)
        return tuple(int(np.digitize(x, edges)) for x, edges in pairs)

    def reset(self):
        observation, _ = self.env.reset()
        return self.state(observation)

    def step(self, action):
        observation, reward, terminated, truncated, _ = self.env.step(action)
        return self.state(observation), reward, terminated, truncated  # truncated: 500 steps


# END generated from notebooks/02_q_learning.ipynb
