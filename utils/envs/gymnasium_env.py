"""A Gymnasium 1.x environment as a TF-Agents ``PyEnvironment``.

Taught in notebook 06. TF-Agents 0.19, its latest release, loads only the old ``gym``
package (``suite_gym``, gym 0.23), while the environments learners meet today are written for
Gymnasium, whose ``reset`` returns ``(observation, info)`` and whose ``step`` tells a
termination (``terminated``) from a time limit (``truncated``). :class:`GymnasiumEnvironment`
adapts one; :func:`load` makes one by id (or takes one) and adapts it:

- specs come from the spaces (``Box``, ``Discrete`` with any ``start``, ``MultiDiscrete``,
  ``MultiBinary``); any other space is rejected with one line that says what to do;
- ``reset`` gives ``FIRST``; ``terminated`` gives ``LAST`` with discount 0; ``truncated``
  (Gymnasium's ``TimeLimit``) gives ``LAST`` with discount 1; every other step is ``MID``
  with discount 1; stepping after ``LAST`` starts a new episode, as in ``suite_gym``;
- with a ``seed``, the first reset is ``reset(seed=seed)`` and the action space is seeded,
  later resets continue the same random stream.

Where it differs from ``suite_gym.load``: the step limit is a truncation (discount 1), as
with ``utils.envs.load_env``, where gym 0.23 reports it as ``done`` and ``suite_gym`` makes
it a termination (discount 0); ``MultiDiscrete`` and ``MultiBinary`` keep the dtypes that
Gymnasium gives them (``suite_gym`` uses ``int32``); infinite ``Box`` bounds, which Gymnasium
writes where gym 0.23 wrote the dtype's largest value, become that value again, so that
CartPole's specs are the same as ``suite_gym``'s.

TF-Agents' own ``suite_gymnasium`` (on its main branch) should replace this module once a
TF-Agents release contains it.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

SUPPORTED_SPACES = ("Box", "Discrete", "MultiDiscrete", "MultiBinary")


def _finite(bound: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``bound`` with infinities replaced by the dtype's largest finite values.

    TF-Agents' own default for an unbounded float ``BoundedArraySpec`` (and the bounds gym
    0.23 wrote where Gymnasium writes ``inf``, e.g. CartPole's velocities).
    """
    if not np.issubdtype(dtype, np.floating):
        return bound
    info = np.finfo(dtype)
    return np.clip(bound, info.min, info.max).astype(dtype)


def _simplify(bound: np.ndarray) -> np.ndarray:
    """A single value for a bound whose entries are all equal (as ``suite_gym`` prints them)."""
    first = bound.flat[0] if bound.size else None
    if bound.size and np.all(bound == first):
        return np.array(first, dtype=bound.dtype)
    return bound


def spec_from_space(space: gymnasium.Space, name: str) -> array_spec.BoundedArraySpec:
    """The ``BoundedArraySpec`` of a Gymnasium space; ``name`` is "observation" or "action".

    ``Box`` keeps its dtype and bounds (infinite bounds become the dtype's largest finite
    values); ``Discrete(n, start)`` is a scalar ``int64`` from ``start`` to ``start + n - 1``;
    ``MultiDiscrete`` and ``MultiBinary`` keep their shape and dtype. Any other space raises a
    ``ValueError`` of one line.
    """
    spaces = gymnasium.spaces
    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        return array_spec.BoundedArraySpec(
            (), np.int64, minimum=start, maximum=start + int(space.n) - 1, name=name
        )
    if isinstance(space, spaces.MultiDiscrete):
        low = np.asarray(space.start, dtype=space.dtype)
        high = np.asarray(space.start + space.nvec - 1, dtype=space.dtype)
        return array_spec.BoundedArraySpec(
            space.shape, space.dtype, minimum=_simplify(low), maximum=_simplify(high), name=name
        )
    if isinstance(space, spaces.MultiBinary):
        return array_spec.BoundedArraySpec(
            space.shape, space.dtype, minimum=0, maximum=1, name=name
        )
    if isinstance(space, spaces.Box):
        low = _finite(np.asarray(space.low, dtype=space.dtype), space.dtype)
        high = _finite(np.asarray(space.high, dtype=space.dtype), space.dtype)
        simple_low, simple_high = _simplify(low), _simplify(high)
        if simple_low.shape == simple_high.shape:  # both simplified, or neither
            low, high = simple_low, simple_high
        return array_spec.BoundedArraySpec(
            space.shape, space.dtype, minimum=low, maximum=high, name=name
        )
    if name != "observation":
        hint = "wrap the environment in a gymnasium.ActionWrapper whose action_space is one"
    elif isinstance(space, spaces.Dict | spaces.Tuple):
        hint = "flatten it with gymnasium.wrappers.FlattenObservation"
    else:
        hint = "wrap the environment in a gymnasium.ObservationWrapper whose space is one"
    described = " ".join(str(space).split())  # one line, even for a long nested space
    raise ValueError(
        f"The {name} space {described} is not supported: GymnasiumEnvironment needs "
        f"{', '.join(SUPPORTED_SPACES[:-1])} or {SUPPORTED_SPACES[-1]}; {hint} of them."
    )


class GymnasiumEnvironment(py_environment.PyEnvironment):
    """A Gymnasium 1.x environment behind TF-Agents' ``PyEnvironment`` interface.

    ``seed``: the first reset is ``reset(seed=seed)`` and the action space is seeded with it.
    The Gymnasium environment itself is ``.gym``; the ``info`` of the last reset or step is
    ``get_info()``.
    """

    def __init__(self, gym_env: gymnasium.Env, *, seed: int | None = None):
        super().__init__(handle_auto_reset=True)  # step() after LAST starts a new episode
        self._gym_env = gym_env
        self._observation_spec = spec_from_space(gym_env.observation_space, "observation")
        self._action_spec = spec_from_space(gym_env.action_space, "action")
        self._discrete = isinstance(gym_env.action_space, gymnasium.spaces.Discrete)
        self._info: dict[str, Any] = {}
        self._next_seed: int | None = None
        if seed is not None:
            self.seed(seed)

    @property
    def gym(self) -> gymnasium.Env:
        """The Gymnasium environment inside."""
        return self._gym_env

    def get_info(self) -> dict[str, Any]:
        """The ``info`` dictionary of the last reset or step."""
        return self._info

    def observation_spec(self) -> array_spec.BoundedArraySpec:
        return self._observation_spec

    def action_spec(self) -> array_spec.BoundedArraySpec:
        return self._action_spec

    def seed(self, seed: int) -> int:
        """Seed the next reset (``reset(seed=seed)``) and the action space; return ``seed``."""
        self._next_seed = int(seed)
        self._gym_env.action_space.seed(int(seed))
        return int(seed)

    def _observation(self, observation) -> np.ndarray:
        return np.asarray(observation, dtype=self._observation_spec.dtype)

    def _reset(self) -> ts.TimeStep:
        seed, self._next_seed = self._next_seed, None  # later resets continue the stream
        observation, self._info = self._gym_env.reset(seed=seed)
        return ts.restart(self._observation(observation))

    def _step(self, action) -> ts.TimeStep:
        if self._discrete:  # a plain int: Gymnasium's checks and dictionary lookups want one
            action = int(np.asarray(action).item())
        else:
            action = np.asarray(action, dtype=self._gym_env.action_space.dtype)
        observation, reward, terminated, truncated, self._info = self._gym_env.step(action)
        observation, reward = self._observation(observation), np.float32(reward)
        if terminated:  # nothing comes after this state: discount 0
            return ts.termination(observation, reward)
        if truncated:  # the clock stopped a state that still had a future: discount 1
            return ts.truncation(observation, reward, discount=np.float32(1.0))
        return ts.transition(observation, reward, discount=np.float32(1.0))

    def render(self, mode: str = "rgb_array"):
        """The frame of Gymnasium's ``render()``; ``mode`` must be the one the env was made with."""
        made_with = self._gym_env.render_mode
        if mode != made_with:
            raise ValueError(
                f"This environment was made with render_mode={made_with!r}, so it cannot render "
                f"{mode!r}; make it with load(..., render_mode={mode!r})."
            )
        return self._gym_env.render()

    def close(self) -> None:
        self._gym_env.close()


def load(
    name_or_env: str | gymnasium.Env,
    *,
    seed: int | None = None,
    max_episode_steps: int | None = None,
    render_mode: str | None = "rgb_array",
    **make_kwargs,
) -> GymnasiumEnvironment:
    """A Gymnasium environment, made by id or given, as a TF-Agents ``PyEnvironment``.

    ``max_episode_steps``: the step limit (Gymnasium's ``TimeLimit``, a truncation); None
    keeps the registered one. ``render_mode`` and ``make_kwargs`` go to ``gymnasium.make``
    and apply only to an id; a given environment keeps its own render mode.
    """
    if max_episode_steps is not None and (
        isinstance(max_episode_steps, bool)
        or not isinstance(max_episode_steps, int | np.integer)
        or max_episode_steps < 1
    ):
        raise ValueError(
            f"max_episode_steps must be a whole number >= 1 or None, got {max_episode_steps!r}."
        )
    if isinstance(name_or_env, str):
        gym_env = gymnasium.make(
            name_or_env, render_mode=render_mode, max_episode_steps=max_episode_steps, **make_kwargs
        )
    elif isinstance(name_or_env, gymnasium.Env):
        if make_kwargs:
            raise ValueError(
                f"Arguments {sorted(make_kwargs)} are for gymnasium.make, but an environment "
                "was given: pass its id instead, or make it with them yourself."
            )
        gym_env = name_or_env
        if max_episode_steps is not None:
            gym_env = gymnasium.wrappers.TimeLimit(gym_env, int(max_episode_steps))
    else:
        raise ValueError(
            "load needs a Gymnasium id such as 'CartPole-v1' or a gymnasium.Env, "
            f"got {name_or_env!r}."
        )
    return GymnasiumEnvironment(gym_env, seed=seed)
