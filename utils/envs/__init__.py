"""Gym environments: loading them (plain or through TF-Agents) with clear errors, batching,
rendering frames, and playing one episode on camera.

Taught in notebook 01 (loading, specs, frames); ``record_episode`` in notebook 03. The
submodules hold the other environments of the course: ``gridworld`` (notebook 06),
``tf_cartpole`` (notebook 09) and the recording wrappers of ``recording`` (notebook 05).
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


# CartPole's typical observation magnitudes (cart position, cart speed, pole angle, pole
# speed): dividing by them brings every input of a network to about [-1, 1].
CARTPOLE_OBSERVATION_SCALE = (2.4, 3.0, 0.21, 3.0)


CONTINUOUS_AGENTS = ("ddpg", "td3", "sac")  # the course's agents for continuous actions
CONTINUOUS_HINT = "for continuous actions use DDPG, TD3 or SAC (notebook 10)"


def check_action_spec(agent_name: str, action_spec) -> None:
    """One clear line when ``agent_name`` cannot act in an environment with ``action_spec``.

    DDPG, TD3 and SAC (:data:`CONTINUOUS_AGENTS`) need float actions; every other agent of
    the course (DQN, actor-critic, PPO) needs whole numbers.
    """
    import tensorflow as tf

    continuous = agent_name.lower() in CONTINUOUS_AGENTS
    is_float = tf.as_dtype(action_spec.dtype).is_floating
    if continuous and not is_float:
        raise ValueError(
            f"{agent_name.upper()} needs continuous actions, but this environment's action spec "
            f"is {action_spec}; for discrete actions use DQN (notebooks 03 and 07) or the "
            "actor-critic and PPO of notebook 08."
        )
    if not continuous and is_float:
        raise ValueError(
            f"{agent_name} needs discrete actions, but this environment's action spec is "
            f"{action_spec}; {CONTINUOUS_HINT}: one of {', '.join(CONTINUOUS_AGENTS)}."
        )


def make_gym_env(name: str, seed: int | None = None, *, discrete: bool = True):
    """A plain Gym environment (with its registered time limit), seeded when ``seed`` is given.

    With ``discrete`` (the default) it must have discrete actions and vector observations,
    what the course's DQN and actor-critic trainers need; a clear error says otherwise.
    """
    import gym

    check_env_name(name)
    env = gym.make(name)
    if discrete and not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(
            f"{name} has {type(env.action_space).__name__} actions ({env.action_space}); this "
            "trainer needs a discrete action space (e.g. CartPole-v1, Acrobot-v1, "
            f"MountainCar-v0); {CONTINUOUS_HINT}."
        )
    shape = env.observation_space.shape
    if discrete and (shape is None or len(shape) != 1):
        raise ValueError(f"{name} has observations of shape {shape}; this trainer needs vectors.")
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def start_observations(name: str, count: int = 20, first_seed: int = 10_000) -> np.ndarray:
    """``count`` first observations of ``name``, reset with seeds ``first_seed``, ``+1``, ...

    The same states every time: a trainer evaluates its value estimates on them as it learns.
    """
    env = make_gym_env(name)
    try:
        return np.stack([env.reset(seed=first_seed + i) for i in range(count)]).astype(np.float32)
    finally:
        env.close()


def batched_env(name: str, copies: int, seed: int = 0):
    """``copies`` copies of ``load_env(name)``, seeded ``seed + i``, stepped as one batch.

    A TF-Agents ``BatchedPyEnvironment``: one policy call per step serves every copy.
    """
    from tf_agents.environments import batched_py_environment

    if not isinstance(copies, int) or copies < 1:
        raise ValueError(f"copies must be a whole number >= 1, got {copies!r}.")
    envs = [load_env(name) for _ in range(copies)]
    for i, env in enumerate(envs):
        env.seed(seed + i)
    return batched_py_environment.BatchedPyEnvironment(envs, multithreading=False)


def render_frame(env) -> np.ndarray:
    """One RGB frame (height x width x 3, uint8) from a Gym, Python or TF environment."""
    is_gym = hasattr(env, "action_space") and not hasattr(env, "time_step_spec")
    frame = env.render(mode="rgb_array") if is_gym else env.render()
    if frame is None:
        raise RuntimeError(
            "The environment returned no frame. Reset it first, and call runtime.setup() "
            "(utils.infra.runtime) before rendering, so that a display or SDL's dummy driver "
            "is set."
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


def record_episode(env, policy, *, seed: int | None = None, max_steps: int = 10_000):
    """Play one episode and return its RGB frames (first one before any step) and its return.

    ``env`` is a TF-Agents Python environment with a TF-Agents policy (a TF policy is
    compiled once), or a Gym environment with a function from one observation to one action.
    ``seed`` resets a Gym environment with that seed. Call ``runtime.setup()`` first, so that
    frames can be rendered headless.
    """
    if hasattr(env, "time_step_spec"):  # TF-Agents
        from tf_agents.policies import py_tf_eager_policy, tf_policy

        if isinstance(policy, tf_policy.TFPolicy):
            policy = py_tf_eager_policy.PyTFEagerPolicy(policy, use_tf_function=True)
        state = env.reset()

        def step(time_step):
            time_step = env.step(policy.action(time_step).action)
            return time_step, float(np.asarray(time_step.reward)), bool(time_step.is_last())

        done = bool(state.is_last())
    else:  # Gym: reset() -> observation, step(action) -> (observation, reward, done, info)
        state = env.reset() if seed is None else env.reset(seed=seed)

        def step(observation):
            observation, reward, finished, _ = env.step(policy(observation))
            return observation, float(reward), bool(finished)

        done = False
    frames = [render_frame(env)]
    total = 0.0
    for _ in range(max_steps):
        if done:
            break
        state, reward, done = step(state)
        total += reward
        frames.append(render_frame(env))
    return frames, total
