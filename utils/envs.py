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


def load_env(name: str, **kwargs):
    """``suite_gym.load(name)`` with an error that names close matches for a wrong id."""
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
    from tf_agents.environments import suite_gym

    return suite_gym.load(name, **kwargs)


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
