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

The notebook's cells marked ``#@save`` are the source of the generated block below: the
rules (:class:`GridWorld`), the two environments that wrap them (:class:`GridWorldPyEnv`,
:class:`GridWorldGymEnv`) and :func:`register_gridworld`. What the lesson does not teach
stays here, above the block: checks with clear error messages, :class:`GridWorldBase`
(drawing, shortest paths, a policy's arrows) and :class:`GridWorldRendering` (``render``).
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


# --- checks with clear messages, for the rules and the environments -------------------------


def check_layout(layout: Sequence[str], symbols: str = "SG#.") -> tuple[str, ...]:
    """The layout's rows (spaces removed), or a ValueError that says what is wrong with it.

    Rows must have the same length and hold only ``symbols``, with exactly one ``S`` (start)
    and one ``G`` (goal). Add a letter to ``symbols`` to give a world of your own new cells.
    """
    if isinstance(layout, str) or not layout or not all(isinstance(r, str) for r in layout):
        raise ValueError(
            "layout must be a sequence of equal-length strings, one per row, e.g. "
            "('S..', '.#.', '..G'); got " + repr(layout)
        )
    rows = tuple(row.replace(" ", "") for row in layout)
    if len({len(row) for row in rows}) != 1 or not rows[0]:
        raise ValueError("All layout rows must have the same, non-zero number of cells.")
    unknown = set("".join(rows)) - set(symbols)
    if unknown:
        raise ValueError(
            f"Unknown layout characters {sorted(unknown)}: use S (start), G (goal), "
            "# (wall) and . (floor)."
        )
    for ch, name in (("S", "start"), ("G", "goal")):
        found = "".join(rows).count(ch)
        if found != 1:
            raise ValueError(f"The layout needs exactly one {name} cell ('{ch}'); found {found}.")
    return rows


def check_action(action: Any) -> int:
    """The action as an int in 0..3, or a ValueError that lists the valid actions."""
    value = np.asarray(action)
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"An action is one integer 0..3 ({', '.join(ACTIONS)}); got {action!r}.")
    value = int(value.reshape(()))
    if not 0 <= value < len(ACTIONS):
        raise ValueError(f"Action {value} is out of range: use 0..3 ({', '.join(ACTIONS)}).")
    return value


def check_max_steps(max_steps: Any, name: str = "max_steps") -> int:
    """A step limit as an int >= 1, or a ValueError naming the argument."""
    if not isinstance(max_steps, int | np.integer) or max_steps < 1:
        raise ValueError(f"{name} must be a whole number >= 1; got {max_steps!r}.")
    return int(max_steps)


# --- what every grid world can do once its rules are written -------------------------------


class GridWorldBase:
    """Drawing and searching for a grid world whose subclass writes the rules.

    The subclass (notebook 06's :class:`GridWorld`) sets ``layout``, ``rows``, ``cols``,
    ``start``, ``goal`` and ``walls``, and defines ``move(cell, action) -> cell``,
    ``step(cell, action) -> (cell, reward, at_goal)`` and ``observation(cell)``. Everything
    here calls those, so it follows the rules the subclass writes.
    """

    layout: tuple[str, ...]
    rows: int
    cols: int
    start: Cell
    goal: Cell
    walls: frozenset[Cell]

    def move(self, cell: Cell, action: int) -> Cell:
        """The cell reached by ``action`` from ``cell`` (written by the subclass)."""
        raise NotImplementedError

    def step(self, cell: Cell, action: int) -> tuple[Cell, float, bool]:
        """The new cell, the reward and whether the goal was reached (written by the subclass)."""
        raise NotImplementedError

    @property
    def num_cells(self) -> int:
        """Number of cells (the length of an observation)."""
        return self.rows * self.cols

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

    @functools.cached_property
    def _shortest(self) -> list[int]:
        """A breadth-first search from the start: the actions of one shortest path."""
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
        raise ValueError("The goal cannot be reached from the start: open a path in the walls.")

    def shortest_path(self) -> list[int]:
        """Actions of one shortest path from the start to the goal (a ValueError if none)."""
        return list(self._shortest)

    def optimal_return(self) -> float:
        """Return of a shortest path: the rewards ``step`` pays along it, added up."""
        cell, total = self.start, 0.0
        for action in self._shortest:
            cell, reward, _ = self.step(cell, action)
            total += float(reward)
        return total

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
        for cell, letter in ((self.start, "S"), (self.goal, "G")):
            x, y = (cell[1] + 0.08) * n, (cell[0] + 0.06) * n  # the cell's top-left corner
            axis.text(x, y, letter, ha="left", va="top", fontsize=9, weight="bold")
        from matplotlib.lines import Line2D

        legend = [
            Line2D([], [], color="tab:green", lw=2, label="starts a shortest path"),
            Line2D([], [], color="tab:orange", lw=2, label="does not"),
        ]
        axis.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(title or "Chosen action in each cell")
        figure.tight_layout()
        if path is not None:
            figure.savefig(path, dpi=100)
        return figure


class GridWorldRendering:
    """``metadata`` and ``render()`` for an environment with a ``world`` and the agent's ``cell``.

    Both of notebook 06's environments inherit it: drawing is not the lesson. It lists
    ``rgb_array`` as the only render mode and the frame rate, in the keys that TF-Agents,
    gym 0.23 and older Gym read.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render.modes": ["rgb_array"],
        "render_fps": FPS,
        "video.frames_per_second": FPS,
    }
    world: GridWorldBase
    cell: Cell | None

    def render(self, mode: str = "rgb_array") -> np.ndarray:
        """The current grid as an RGB uint8 image."""
        if mode != "rgb_array":
            raise ValueError(f"The grid world renders only mode='rgb_array'; got {mode!r}.")
        if self.cell is None:
            raise RuntimeError("Call reset() before render().")
        return self.world.render(self.cell)


def _registry() -> Any:
    registry = gym.envs.registration.registry
    return getattr(registry, "env_specs", registry)  # gym 0.23 wraps the dict


def already_registered(entry: dict[str, Any]) -> bool:
    """Whether Gym holds ``entry`` (the arguments of ``gym.register``) unchanged under its id.

    gym 0.23 warns when an id is registered twice, so a cell that registers could not simply
    run again. An entry of the same id with other settings is removed (the answer is then
    False, and the caller's ``gym.register`` replaces it). A bad id or step limit raises a
    ValueError that says what is expected.
    """
    env_id = entry["id"]
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a non-empty string like 'GridWorld-v0'; got {env_id!r}.")
    check_max_steps(entry["max_episode_steps"], "max_episode_steps")
    specs = _registry()
    if env_id not in specs:
        return False
    old = specs[env_id]
    fields = ("entry_point", "max_episode_steps", "reward_threshold", "kwargs")
    if all(getattr(old, name) == entry[name] for name in fields):
        return True
    del specs[env_id]
    return False


# BEGIN generated from notebooks/06_custom_environment.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


class GridWorld(GridWorldBase):
    """The rules of a grid world: layout, moves, rewards and observations."""

    def __init__(self, layout=LAYOUT):
        self.layout = check_layout(layout)  # rows of S, G, # and .; one S and one G
        self.rows, self.cols = len(self.layout), len(self.layout[0])
        cells = {(r, c): ch for r, row in enumerate(self.layout) for c, ch in enumerate(row)}
        self.start = next(cell for cell, ch in cells.items() if ch == "S")
        self.goal = next(cell for cell, ch in cells.items() if ch == "G")
        self.walls = frozenset(cell for cell, ch in cells.items() if ch == "#")
        self.shortest_path()  # the base class's search: fails now if the goal is walled off

    def move(self, cell, action):
        """The cell reached by ``action`` from ``cell``; walls and edges leave it in place."""
        dr, dc = MOVES[check_action(action)]  # check_action: an int in 0..3, or a clear error
        nxt = (cell[0] + dr, cell[1] + dc)
        if not (0 <= nxt[0] < self.rows and 0 <= nxt[1] < self.cols) or nxt in self.walls:
            return cell
        return nxt

    def step(self, cell, action):
        """Apply one move: return the new cell, the reward and whether the goal was reached."""
        nxt = self.move(cell, action)
        at_goal = nxt == self.goal
        return nxt, (GOAL_REWARD if at_goal else STEP_REWARD), at_goal

    def observation(self, cell):
        """One-hot float32 vector marking the agent's cell (row-major)."""
        obs = np.zeros(self.rows * self.cols, dtype=np.float32)
        obs[cell[0] * self.cols + cell[1]] = 1.0
        return obs


class GridWorldPyEnv(GridWorldRendering, py_environment.PyEnvironment):
    """The grid world as a TF-Agents ``PyEnvironment`` with its own step limit."""

    def __init__(self, layout=LAYOUT, max_steps=MAX_STEPS):
        super().__init__(handle_auto_reset=True)  # step() after a LAST step calls _reset()
        self.world, self.max_steps = GridWorld(layout), check_max_steps(max_steps)
        self.cell, self.steps = self.world.start, 0  # the agent's (row, column), moves so far

    def action_spec(self):  # one int64: 0 up, 1 down, 2 left, 3 right
        return array_spec.BoundedArraySpec(
            (), np.int64, minimum=0, maximum=len(ACTIONS) - 1, name="action"
        )

    def observation_spec(self):  # one-hot: 1.0 on the agent's cell, 0.0 elsewhere
        return array_spec.BoundedArraySpec(
            (self.world.num_cells,), np.float32, minimum=0.0, maximum=1.0, name="observation"
        )

    def _reset(self):
        self.cell, self.steps = self.world.start, 0
        return ts.restart(self.world.observation(self.cell))

    def _step(self, action):
        self.cell, reward, at_goal = self.world.step(self.cell, action)
        self.steps += 1
        observation, reward = self.world.observation(self.cell), np.float32(reward)
        if at_goal:  # terminated: nothing comes after the goal (discount 0)
            return ts.termination(observation, reward)
        if self.steps >= self.max_steps:  # truncated: the clock ran out (discount stays 1)
            return ts.truncation(observation, reward, discount=np.float32(1.0))
        return ts.transition(observation, reward, discount=np.float32(1.0))


class GridWorldGymEnv(GridWorldRendering, gym.Env):
    """The grid world as a Gym environment (gym 0.23 API); registration sets the step limit."""

    def __init__(self, layout=LAYOUT):
        self.world, self.cell = GridWorld(layout), None  # no agent before reset()
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.observation_space = spaces.Box(0.0, 1.0, (self.world.num_cells,), dtype=np.float32)
        self.reward_range = (STEP_REWARD, GOAL_REWARD)

    def reset(self, *, seed=None, return_info=False, options=None):
        """Put the agent on the start cell; return the observation (and ``{}`` if asked)."""
        super().reset(seed=seed)
        self.cell = self.world.start
        observation = self.world.observation(self.cell)
        return (observation, {}) if return_info else observation

    def step(self, action):
        """Move the agent; return ``(observation, reward, done, info)``."""
        if self.cell is None or self.cell == self.world.goal:
            raise RuntimeError("Call reset() before step(), and again after reaching the goal.")
        self.cell, reward, done = self.world.step(self.cell, action)
        return self.world.observation(self.cell), float(reward), done, {"cell": self.cell}


def register_gridworld(
    env_id=ENV_ID,
    max_episode_steps=MAX_STEPS,
    reward_threshold=None,
    entry_point=ENTRY_POINT,
    **kwargs,
):
    """Register the grid world with Gym under ``env_id``; safe to call again.

    ``reward_threshold`` defaults to the layout's optimal return; ``kwargs`` (e.g.
    ``layout=...``) go to the environment's constructor. Returns the registered ``EnvSpec``.
    """
    world = GridWorld(kwargs.get("layout", LAYOUT))  # a bad layout fails here, not in gym.make
    if reward_threshold is None:
        reward_threshold = world.optimal_return()  # solved: a shortest path
    entry = {
        "id": env_id,
        "entry_point": entry_point,  # "module:Class", or the class itself
        "max_episode_steps": max_episode_steps,  # gym.make adds a TimeLimit wrapper
        "reward_threshold": reward_threshold,
        "kwargs": kwargs,  # for the class's constructor
    }
    if not already_registered(entry):
        gym.register(**entry)
    return gym.spec(env_id)


# END generated from notebooks/06_custom_environment.ipynb


def optimal_return(layout: Sequence[str] = LAYOUT) -> float:
    """Best achievable return in ``layout`` (goal reward minus the cost of a shortest path)."""
    return GridWorld(layout).optimal_return()


OPTIMAL_STEPS = len(GridWorld().shortest_path())
OPTIMAL_RETURN = optimal_return()
