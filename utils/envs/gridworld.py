"""A small grid world with walls and a goal, as a TF-Agents and as a Gym environment.

Taught in notebook 06: writing a ``PyEnvironment`` subclass, validating it, and registering
the same task with Gym (id, entry point, step limit, reward threshold) to load it by name.

The default maze (``S`` start, ``G`` goal, ``#`` wall, ``.`` floor)::

    S . . . . .
    . # # # # .
    . # G . # .
    . # # . # .
    . . . . # .
    . # # # # .

The goal sits in a room whose only door is at the bottom, so walking towards it greedily
hits a wall, and the right-hand corridor is a dead end. Every move costs ``STEP_REWARD``
(-1); the move onto the goal pays ``GOAL_REWARD`` (+10) instead and ends the episode. The
shortest path takes 10 moves, so the best return is ``OPTIMAL_RETURN`` = 10 - 9 = 1; an
episode that runs out of moves scores -``MAX_STEPS`` (-50). A random policy averages about
-49 (it finds the goal in about one episode in 25); a DQN with a 64-unit hidden layer finds
the shortest path after about 3,000 training steps (under a minute on a CPU).

:class:`GridWorld` holds the rules (one implementation); :class:`GridWorldPyEnv` and
:class:`GridWorldGymEnv` both wrap it.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

import gym
import numpy as np
from gym import spaces
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

LAYOUT: tuple[str, ...] = (
    "S.....",
    ".####.",
    ".#G.#.",
    ".##.#.",
    "....#.",
    ".####.",
)
ACTIONS: tuple[str, ...] = ("up", "down", "left", "right")
MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))
STEP_REWARD = -1.0
GOAL_REWARD = 10.0
MAX_STEPS = 50
FPS = 4
CELL_PIXELS = 40
ENV_ID = "GridWorld-v0"
ENTRY_POINT = "utils.envs.gridworld:GridWorldGymEnv"

_COLOURS = {
    "floor": (236, 236, 236),
    "wall": (64, 64, 72),
    "start": (200, 220, 245),
    "goal": (90, 190, 110),
    "agent": (220, 60, 50),
    "line": (180, 180, 180),
}

Cell = tuple[int, int]


class GridWorld:
    """The rules of a grid world: layout, moves, rewards, observations and drawing."""

    def __init__(self, layout: Sequence[str] = LAYOUT):
        if isinstance(layout, str) or not layout or not all(isinstance(r, str) for r in layout):
            raise ValueError(
                "layout must be a sequence of equal-length strings, one per row, e.g. "
                "('S..', '.#.', '..G'); got " + repr(layout)
            )
        rows = [row.replace(" ", "") for row in layout]
        if len({len(row) for row in rows}) != 1 or not rows[0]:
            raise ValueError("All layout rows must have the same, non-zero number of cells.")
        unknown = set("".join(rows)) - set("SG#.")
        if unknown:
            raise ValueError(
                f"Unknown layout characters {sorted(unknown)}: use S (start), G (goal), "
                "# (wall) and . (floor)."
            )
        cells = {
            ch: [(r, c) for r, row in enumerate(rows) for c, x in enumerate(row) if x == ch]
            for ch in "SG#"
        }
        for ch, name in (("S", "start"), ("G", "goal")):
            if len(cells[ch]) != 1:
                raise ValueError(
                    f"The layout needs exactly one {name} cell ('{ch}'); found {len(cells[ch])}."
                )
        self.layout: tuple[str, ...] = tuple(rows)
        self.rows, self.cols = len(rows), len(rows[0])
        self.start: Cell = cells["S"][0]
        self.goal: Cell = cells["G"][0]
        self.walls: frozenset[Cell] = frozenset(cells["#"])
        self._shortest = self._bfs()
        if self._shortest is None:
            raise ValueError("The goal cannot be reached from the start: open a path in the walls.")

    @property
    def num_cells(self) -> int:
        """Number of cells (the length of an observation)."""
        return self.rows * self.cols

    def move(self, cell: Cell, action: int) -> Cell:
        """The cell reached by ``action`` from ``cell``; walls and edges leave it in place."""
        action = check_action(action)
        dr, dc = MOVES[action]
        nxt = (cell[0] + dr, cell[1] + dc)
        if not (0 <= nxt[0] < self.rows and 0 <= nxt[1] < self.cols) or nxt in self.walls:
            return cell
        return nxt

    def step(self, cell: Cell, action: int) -> tuple[Cell, float, bool]:
        """Apply one move: return the new cell, the reward and whether the goal was reached."""
        nxt = self.move(cell, action)
        at_goal = nxt == self.goal
        return nxt, (GOAL_REWARD if at_goal else STEP_REWARD), at_goal

    def observation(self, cell: Cell) -> np.ndarray:
        """One-hot float32 vector marking the agent's cell (row-major)."""
        obs = np.zeros(self.num_cells, dtype=np.float32)
        obs[cell[0] * self.cols + cell[1]] = 1.0
        return obs

    def render(self, cell: Cell | None, cell_pixels: int = CELL_PIXELS) -> np.ndarray:
        """Draw the grid with the agent at ``cell`` (None: no agent) as RGB uint8 (numpy only)."""
        n = cell_pixels
        image = np.empty((self.rows * n, self.cols * n, 3), dtype=np.uint8)
        for r in range(self.rows):
            for c in range(self.cols):
                kind = "floor"
                if (r, c) in self.walls:
                    kind = "wall"
                elif (r, c) == self.goal:
                    kind = "goal"
                elif (r, c) == self.start:
                    kind = "start"
                image[r * n : (r + 1) * n, c * n : (c + 1) * n] = _COLOURS[kind]
        image[::n, :] = _COLOURS["line"]
        image[:, ::n] = _COLOURS["line"]
        image[-1, :] = _COLOURS["line"]
        image[:, -1] = _COLOURS["line"]
        if cell is None:
            return image
        yy, xx = np.mgrid[0:n, 0:n]
        centre = (n - 1) / 2
        disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= (0.32 * n) ** 2
        block = image[cell[0] * n : (cell[0] + 1) * n, cell[1] * n : (cell[1] + 1) * n]
        block[disc] = _COLOURS["agent"]
        return image

    def _bfs(self) -> list[int] | None:
        parents: dict[Cell, tuple[Cell, int] | None] = {self.start: None}
        queue = deque([self.start])
        while queue:
            cell = queue.popleft()
            if cell == self.goal:
                actions: list[int] = []
                while parents[cell] is not None:
                    cell, action = parents[cell]
                    actions.append(action)
                return actions[::-1]
            for action in range(len(ACTIONS)):
                nxt = self.move(cell, action)
                if nxt not in parents:
                    parents[nxt] = (cell, action)
                    queue.append(nxt)
        return None

    def shortest_path(self) -> list[int]:
        """Actions of one shortest path from the start to the goal."""
        return list(self._shortest)

    def optimal_return(self) -> float:
        """Return of a shortest path: a step cost per move, the goal reward for the last one."""
        return GOAL_REWARD + STEP_REWARD * (len(self._shortest) - 1)

    def floor_cells(self) -> list[Cell]:
        """Every cell the agent can stand on before the goal (no walls, not the goal), in order."""
        return [
            (r, c)
            for r in range(self.rows)
            for c in range(self.cols)
            if (r, c) not in self.walls and (r, c) != self.goal
        ]

    @functools.cached_property
    def _moves_to_goal(self) -> dict[Cell, int]:
        distance = {self.goal: 0}
        queue = deque([self.goal])
        while queue:  # a search back from the goal: which cells move onto this one?
            cell = queue.popleft()
            for action, (dr, dc) in enumerate(MOVES):
                before = (cell[0] - dr, cell[1] - dc)
                inside = 0 <= before[0] < self.rows and 0 <= before[1] < self.cols
                if (
                    inside
                    and before not in self.walls
                    and before not in distance
                    and self.move(before, action) == cell
                ):
                    distance[before] = distance[cell] + 1
                    queue.append(before)
        return distance

    def moves_to_goal(self) -> dict[Cell, int]:
        """The fewest moves from each cell that can reach the goal, to the goal."""
        return dict(self._moves_to_goal)

    def best_actions(self, cell: Cell) -> set[int]:
        """The actions that start a shortest path from ``cell`` to the goal."""
        distance = self._moves_to_goal
        if cell not in distance or cell == self.goal:
            return set()
        return {
            a for a in range(len(ACTIONS)) if distance.get(self.move(cell, a)) == distance[cell] - 1
        }

    def draw_actions(self, actions: dict[Cell, int], *, title: str = "", path=None):
        """The maze with an arrow in each cell for the action ``actions`` picks there.

        Taught in notebook 06, to see what an agent learned cell by cell: green arrows start a
        shortest path to the goal, orange ones do not. Returns the matplotlib figure (saved to
        ``path`` when given).
        """
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(0.6 * self.cols + 1, 0.6 * self.rows + 0.8))
        axis.imshow(self.render(None), interpolation="none")
        n = CELL_PIXELS
        for cell, action in actions.items():
            action = check_action(action)
            dy, dx = MOVES[action]  # rows grow downwards, as the image's y does
            good = action in self.best_actions(cell)
            x, y = (cell[1] + 0.5) * n, (cell[0] + 0.5) * n
            axis.annotate(
                "",
                xy=(x + 0.3 * n * dx, y + 0.3 * n * dy),
                xytext=(x - 0.3 * n * dx, y - 0.3 * n * dy),
                arrowprops={
                    "arrowstyle": "->",
                    "lw": 2,
                    "color": "tab:green" if good else "tab:orange",
                },
            )
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(title or "Chosen action in each cell (green: starts a shortest path)")
        figure.tight_layout()
        if path is not None:
            figure.savefig(path, dpi=100)
        return figure


def check_action(action: Any) -> int:
    """The action as an int in 0..3, or a ValueError that lists the valid actions."""
    value = np.asarray(action)
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"An action is one integer 0..3 ({', '.join(ACTIONS)}); got {action!r}.")
    value = int(value.reshape(()))
    if not 0 <= value < len(ACTIONS):
        raise ValueError(f"Action {value} is out of range: use 0..3 ({', '.join(ACTIONS)}).")
    return value


def optimal_return(layout: Sequence[str] = LAYOUT) -> float:
    """Best achievable return in ``layout`` (goal reward minus the cost of a shortest path)."""
    return GridWorld(layout).optimal_return()


OPTIMAL_STEPS = len(GridWorld().shortest_path())
OPTIMAL_RETURN = optimal_return()


class GridWorldPyEnv(py_environment.PyEnvironment):
    """The grid world as a TF-Agents ``PyEnvironment`` with its own step limit."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render_fps": FPS,
    }

    def __init__(self, layout: Sequence[str] = LAYOUT, max_steps: int = MAX_STEPS):
        super().__init__(handle_auto_reset=True)
        if not isinstance(max_steps, int | np.integer) or max_steps < 1:
            raise ValueError(f"max_steps must be a whole number >= 1; got {max_steps!r}.")
        self.world = GridWorld(layout)
        self.max_steps = int(max_steps)
        self._cell = self.world.start
        self._steps = 0
        self._action_spec = array_spec.BoundedArraySpec(
            (), np.int64, minimum=0, maximum=len(ACTIONS) - 1, name="action"
        )
        self._observation_spec = array_spec.BoundedArraySpec(
            (self.world.num_cells,), np.float32, minimum=0.0, maximum=1.0, name="observation"
        )

    def action_spec(self) -> array_spec.BoundedArraySpec:
        """Four discrete moves: 0 up, 1 down, 2 left, 3 right."""
        return self._action_spec

    def observation_spec(self) -> array_spec.BoundedArraySpec:
        """A one-hot vector over the grid's cells."""
        return self._observation_spec

    @property
    def cell(self) -> Cell:
        """The agent's (row, column)."""
        return self._cell

    def _reset(self) -> ts.TimeStep:
        self._cell = self.world.start
        self._steps = 0
        return ts.restart(self.world.observation(self._cell))

    def _step(self, action) -> ts.TimeStep:
        self._cell, reward, at_goal = self.world.step(self._cell, action)
        self._steps += 1
        obs = self.world.observation(self._cell)
        reward = np.float32(reward)
        if at_goal:
            return ts.termination(obs, reward)
        if self._steps >= self.max_steps:
            return ts.truncation(obs, reward, discount=np.float32(1.0))
        return ts.transition(obs, reward, discount=np.float32(1.0))

    def render(self, mode: str = "rgb_array") -> np.ndarray:
        """The current grid as an RGB uint8 image."""
        _check_mode(mode)
        return self.world.render(self._cell)

    def get_state(self) -> tuple[Cell, int]:
        """The agent's cell and the steps taken so far."""
        return self._cell, self._steps

    def set_state(self, state: tuple[Cell, int]) -> None:
        """Restore a state from :meth:`get_state`."""
        self._cell, self._steps = tuple(state[0]), int(state[1])


class GridWorldGymEnv(gym.Env):
    """The grid world as a Gym environment (gym 0.23 API); registration sets the step limit."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render.modes": ["rgb_array"],
        "render_fps": FPS,
        "video.frames_per_second": FPS,
    }

    def __init__(self, layout: Sequence[str] = LAYOUT):
        self.world = GridWorld(layout)
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.observation_space = spaces.Box(0.0, 1.0, (self.world.num_cells,), dtype=np.float32)
        self.reward_range = (STEP_REWARD, GOAL_REWARD)
        self._cell: Cell | None = None

    @property
    def cell(self) -> Cell | None:
        """The agent's (row, column), or None before the first reset."""
        return self._cell

    def reset(self, *, seed: int | None = None, return_info: bool = False, options=None):
        """Put the agent on the start cell; return the observation (and ``{}`` if asked)."""
        super().reset(seed=seed)
        self._cell = self.world.start
        obs = self.world.observation(self._cell)
        return (obs, {}) if return_info else obs

    def step(self, action):
        """Move the agent; return ``(observation, reward, done, info)``."""
        if self._cell is None:
            raise RuntimeError("Call reset() before step().")
        if self._cell == self.world.goal:
            raise RuntimeError("The episode ended at the goal: call reset() to start a new one.")
        self._cell, reward, at_goal = self.world.step(self._cell, action)
        return self.world.observation(self._cell), float(reward), at_goal, {"cell": self._cell}

    def render(self, mode: str = "rgb_array") -> np.ndarray:
        """The current grid as an RGB uint8 image."""
        _check_mode(mode)
        if self._cell is None:
            raise RuntimeError("Call reset() before render().")
        return self.world.render(self._cell)


def _check_mode(mode: str) -> None:
    if mode != "rgb_array":
        raise ValueError(f"The grid world renders only mode='rgb_array'; got {mode!r}.")


def _registry() -> Any:
    registry = gym.envs.registration.registry
    return getattr(registry, "env_specs", registry)  # gym 0.23 wraps the dict


def register_gridworld(
    env_id: str = ENV_ID,
    max_episode_steps: int = MAX_STEPS,
    reward_threshold: float | None = None,
    **kwargs: Any,
):
    """Register :class:`GridWorldGymEnv` with Gym under ``env_id``; safe to call again.

    ``reward_threshold`` defaults to the layout's optimal return; ``kwargs`` (e.g.
    ``layout=...``) go to the environment's constructor. Calling it again with the same
    settings keeps the existing registration; with other settings it replaces it.
    Returns the registered ``EnvSpec``.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a non-empty string like 'GridWorld-v0'; got {env_id!r}.")
    if not isinstance(max_episode_steps, int | np.integer) or max_episode_steps < 1:
        raise ValueError(
            f"max_episode_steps must be a whole number >= 1; got {max_episode_steps!r}."
        )
    if reward_threshold is None:
        reward_threshold = GridWorld(kwargs.get("layout", LAYOUT)).optimal_return()
    else:
        GridWorld(kwargs.get("layout", LAYOUT))  # fail here, not at load time, on a bad layout
    specs = _registry()
    wanted = (ENTRY_POINT, int(max_episode_steps), float(reward_threshold), kwargs)
    if env_id in specs:
        old = specs[env_id]
        if (old.entry_point, old.max_episode_steps, old.reward_threshold, old.kwargs) == wanted:
            return old
        del specs[env_id]
    gym.register(
        id=env_id,
        entry_point=ENTRY_POINT,
        max_episode_steps=int(max_episode_steps),
        reward_threshold=float(reward_threshold),
        kwargs=dict(kwargs),
    )
    return specs[env_id]
