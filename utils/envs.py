"""Loading Gym environments through TF-Agents, with clear errors, and rendering frames.

Taught in notebook 01.
"""

from __future__ import annotations

import difflib

import numpy as np


def registered_env_ids() -> list[str]:
    """Ids of every environment registered with Gym."""
    import gym

    registry = gym.envs.registration.registry
    specs = getattr(registry, "env_specs", registry)  # gym 0.23 wraps the dict
    return sorted(specs.keys())


def check_env_name(name: str) -> None:
    """Raise a ValueError naming close matches when ``name`` is not a registered Gym id."""
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"Environment name must be a non-empty string like 'CartPole-v1'; got {name!r}."
        )
    ids = registered_env_ids()
    if name not in ids:
        close = difflib.get_close_matches(name, ids, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown environment {name!r}.{hint} Gym ids look like 'CartPole-v1'; "
            "utils.envs.registered_env_ids() lists them all."
        )


def load_env(name: str, *, max_episode_steps: int | None = None, **kwargs):
    """Load a Gym environment as a TF-Agents ``PyEnvironment`` whose time limit is a truncation.

    Like ``suite_gym.load(name)``, with two differences: a wrong id gives an error naming close
    matches, and gym's own ``TimeLimit`` wrapper is removed so that TF-Agents' ``TimeLimit``
    ends the episode instead. gym 0.23 reports its time limit as ``done``, which TF-Agents
    turns into a termination (discount 0); TF-Agents' wrapper keeps the discount at 1, so an
    agent still values the future of a state that was only cut off by the clock.
    ``max_episode_steps`` defaults to the registered limit; other keyword arguments go to
    ``suite_gym.wrap_env``.
    """
    import gym
    from tf_agents.environments import suite_gym

    check_env_name(name)
    spec = gym.spec(name)
    gym_env = spec.make()
    while isinstance(gym_env, gym.wrappers.TimeLimit):
        gym_env = gym_env.env
    if max_episode_steps is None:
        max_episode_steps = spec.max_episode_steps
    return suite_gym.wrap_env(gym_env, max_episode_steps=max_episode_steps or 0, **kwargs)


def render_frame(env) -> np.ndarray:
    """One RGB frame (height x width x 3, uint8) from a Python or TF environment."""
    frame = env.render()
    if frame is None:
        raise RuntimeError(
            "The environment returned no frame. Reset it first, and call "
            "utils.runtime.setup() before rendering so a display (or SDL's dummy driver) is set."
        )
    frame = np.asarray(frame)
    if frame.ndim == 4:  # a batched (TF) environment renders one frame per copy
        frame = frame[0]
    return frame.astype(np.uint8)


def show_frame(frame: np.ndarray, width: int | None = None):
    """Display a frame inline in a notebook (returns the IPython display object)."""
    import io

    import PIL.Image
    from IPython.display import Image, display

    buffer = io.BytesIO()
    PIL.Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(buffer, format="png")
    image = Image(data=buffer.getvalue(), format="png", width=width)
    display(image)
    return image
