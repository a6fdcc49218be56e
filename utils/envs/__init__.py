"""Environments: Gymnasium's for the course's own trainers, gym 0.23's for TF-Agents.

Two libraries, for one reason. Gymnasium 1.x is today's API, the one to learn:
``reset(seed=...)`` returns ``(observation, info)`` and ``step`` returns
``(observation, reward, terminated, truncated, info)``, with the end of an episode split into
its two causes. The loops written by hand (notebook 00's first loop, the agents of notebooks
07 and 08, ``scripts/train_dqn.py``) and the checks of ``utils.rl.training.gym_checks`` use
it, through :func:`make_env`.
TF-Agents 0.19 loads environments with ``suite_gym``, which needs gym, the library Gymnasium
grew out of, at version 0.23 (one ``done`` flag, ``reset()`` returning the observation alone):
:func:`load_env` and :func:`make_gym_env` are that side. Both libraries simulate CartPole,
Acrobot, MountainCar and Pendulum with the same equations and the same seeded start states.

Taught in notebook 01 (loading, specs, frames); ``make_env`` in notebook 07;
``record_episode`` in notebook 03. The submodules hold the other environments of the course:
``gridworld`` (notebook 06), ``gymnasium_env`` (notebook 06: a Gymnasium environment as a
TF-Agents one), ``tf_cartpole`` (notebook 09) and the recording wrappers of ``recording``
(notebook 05).
"""

from __future__ import annotations

import difflib
import importlib.util
import re

import numpy as np

from utils import bootstrap

LIBRARIES = ("gym", "gymnasium")  # gym 0.23 for TF-Agents' suite_gym; Gymnasium for the rest


def _check_library(library: str) -> None:
    if library not in LIBRARIES:
        raise ValueError(f"library must be 'gym' or 'gymnasium', got {library!r}.")


def _library_label(library: str) -> str:
    """How messages name a library, with the version installed: 'gym 0.23.0', 'Gymnasium 1.3.0'."""
    dist, label = ("gymnasium", "Gymnasium") if library == "gymnasium" else ("gym", "gym")
    version = bootstrap.installed(dist)
    return f"{label} {version}" if version else label


def registered_env_ids() -> list[str]:
    """Ids of every environment registered with gym (0.23), the library ``suite_gym`` loads."""
    import gym

    registry = gym.envs.registration.registry
    specs = getattr(registry, "env_specs", registry)  # gym 0.23 wraps the dict
    return sorted(specs.keys())


def gymnasium_env_ids() -> list[str]:
    """Ids of every environment registered with Gymnasium, the library :func:`make_env` uses."""
    import gymnasium

    return sorted(gymnasium.registry.keys())


_ID = re.compile(r"^(?:(?P<namespace>[\w:.-]+)/)?(?P<name>[\w:.-]+?)(?:-v(?P<version>\d+))?$")


def _family(env_id: str) -> tuple[str | None, str]:
    """``(namespace, name)`` of an id: ``LunarLander-v3`` -> ``(None, 'LunarLander')``."""
    match = _ID.match(env_id)
    return (match["namespace"], match["name"]) if match else (None, env_id)


def _version(env_id: str) -> int:
    match = _ID.match(env_id)
    return int(match["version"]) if match and match["version"] else -1


def _newest_relative(env_id: str, ids: list[str]) -> str | None:
    """The newest id in ``ids`` of the same environment as ``env_id`` (any version), or None."""
    relatives = [i for i in ids if _family(i) == _family(env_id)]
    return max(relatives, key=_version) if relatives else None


def check_env_name(
    name: str, *, library: str = "gym", call: str | None = None, instead: str | None = None
) -> None:
    """Raise a ValueError naming close matches when ``name`` is not a registered id.

    ``library`` is ``"gym"`` (gym 0.23, what :func:`load_env` and :func:`make_gym_env` load)
    or ``"gymnasium"`` (what :func:`make_env` makes). An id that only the other library has
    gets one line saying where it exists and what to call instead (e.g. ``LunarLander-v2`` is
    gym's; Gymnasium's is ``LunarLander-v3``). ``call``: the function the learner called
    (default ``make_env`` for Gymnasium, ``load_env`` for gym), named in that line;
    ``instead`` replaces that advice for a program, with ``{id}`` for the id to use (e.g.
    ``"use --env-name {id}"``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"Environment name must be a non-empty string like 'CartPole-v1'; got {name!r}."
        )
    _check_library(library)
    other = "gym" if library == "gymnasium" else "gymnasium"
    listing = {"gym": registered_env_ids, "gymnasium": gymnasium_env_ids}
    ids = listing[library]()
    if name in ids:
        return
    if name in listing[other]():
        call = call or ("make_env" if library == "gymnasium" else "load_env")
        other_call = "load_env" if library == "gymnasium" else "make_env"
        here, there = _library_label(library), _library_label(other)
        relative = _newest_relative(name, ids)
        other_way = f"envs.{other_call}({name!r}) loads {there}'s"
        if relative is None:
            raise ValueError(f"{name!r} is a {there} id; {here} has no version of it: {other_way}.")
        advice = (
            instead.format(id=relative)
            if instead
            else f"call envs.{call}({relative!r}) instead ({other_way})"
        )
        raise ValueError(
            f"{name!r} is a {there} id, not a {here} one; {here.split()[0]} has {relative!r}: "
            f"{advice}."
        )
    if "/" not in name:  # namespaced ids (Gymnasium's phys2d/..., tabular/...) need more
        ids = [i for i in ids if "/" not in i]
    close = difflib.get_close_matches(name, ids, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"Unknown environment {name!r}.{hint} Ids look like 'CartPole-v1'; "
        f"utils.envs.{listing[library].__name__}() lists them all."
    )


# The extra packages some families of environments need, found by their entry point's module:
# (part of the module path, the module that must import, what to install).
_EXTRAS = {
    "gymnasium": (
        ("gymnasium.envs.box2d", "Box2D", 'pip install swig "gymnasium[box2d]"'),
        ("gymnasium.envs.mujoco", "mujoco", 'pip install "gymnasium[mujoco]"'),
        ("ale_py", "ale_py", "pip install ale-py"),
    ),
    "gym": (
        ("gym.envs.box2d", "Box2D", "pip install swig box2d-py==2.3.5 (gym 0.23's box2d extra)"),
        ("gym.envs.mujoco", "mujoco_py", "pip install mujoco-py (and MuJoCo itself)"),
        ("gym.envs.atari", "ale_py", "pip install ale-py"),
    ),
}


def check_dependencies(name: str, *, library: str = "gym") -> None:
    """Raise an ImportError, one line naming what to install, when ``name`` needs a package
    that is missing (e.g. Box2D for LunarLander)."""
    if library == "gymnasium":
        import gymnasium

        entry_point = gymnasium.spec(name).entry_point
    else:
        import gym

        entry_point = gym.spec(name).entry_point
    if not isinstance(entry_point, str):
        return
    for module_path, module, install in _EXTRAS[library]:
        if entry_point.startswith(module_path) and importlib.util.find_spec(module) is None:
            raise ImportError(
                f"{name} ({_library_label(library)}) needs the package {module}, which is not "
                f"installed: {install}"
            )


def load_env(name: str, *, max_episode_steps: int | None = None, **kwargs):
    """Load a gym 0.23 environment as a TF-Agents ``PyEnvironment`` whose time limit truncates.

    Like ``suite_gym.load(name)``, with three differences: a wrong id gives an error naming
    close matches (or the Gymnasium id's gym counterpart), a missing extra package (Box2D, ...)
    gives one line naming what to install, and gym's own ``TimeLimit`` wrapper is removed so
    that TF-Agents' ``TimeLimit`` ends the episode instead. gym 0.23 reports its time limit as
    ``done``, which TF-Agents turns into a termination (discount 0); TF-Agents' wrapper keeps
    the discount at 1, so an agent still values the future of a state that was only cut off by
    the clock. ``max_episode_steps`` defaults to the registered limit; other keyword arguments
    go to ``suite_gym.wrap_env``.
    """
    import gym
    from tf_agents.environments import suite_gym

    check_env_name(name)
    check_dependencies(name)
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


def _check_spaces(name: str, env, discrete_type) -> None:
    """What the course's DQN and actor-critic trainers need: discrete actions, vector inputs."""
    if not isinstance(env.action_space, discrete_type):
        raise ValueError(
            f"{name} has {type(env.action_space).__name__} actions ({env.action_space}); this "
            "trainer needs a discrete action space (e.g. CartPole-v1, Acrobot-v1, "
            f"MountainCar-v0); {CONTINUOUS_HINT}."
        )
    shape = env.observation_space.shape
    if shape is None or len(shape) != 1:
        raise ValueError(f"{name} has observations of shape {shape}; this trainer needs vectors.")


def make_env(
    name: str,
    seed: int | None = None,
    *,
    discrete: bool = True,
    render_mode: str | None = None,
):
    """A Gymnasium environment (with its registered time limit), seeded when ``seed`` is given.

    Gymnasium's API: ``reset(seed=...)`` returns ``(observation, info)``, ``step(action)``
    returns ``(observation, reward, terminated, truncated, info)``. With ``seed``, the first
    ``reset`` is already done (the next ``reset()`` goes on from that seed) and the action
    space is seeded too. ``render_mode="rgb_array"`` makes ``render()`` return frames (for
    :func:`record_episode`). With ``discrete`` (the default) it must have discrete actions and
    vector observations, what the course's DQN and actor-critic trainers need; a clear error
    says otherwise. Taught in notebook 07.
    """
    import gymnasium

    check_env_name(name, library="gymnasium")
    check_dependencies(name, library="gymnasium")
    env = gymnasium.make(name, render_mode=render_mode)
    return _checked_and_seeded(name, env, gymnasium.spaces.Discrete if discrete else None, seed)


def make_gym_env(name: str, seed: int | None = None, *, discrete: bool = True):
    """A gym 0.23 environment (old API: ``reset`` returns the observation, ``step`` one ``done``).

    For code that steps the gym environments TF-Agents loads; new code uses :func:`make_env`
    (Gymnasium). Seeded, and checked with ``discrete``, like :func:`make_env`.
    """
    import gym

    check_env_name(name, call="make_gym_env")
    check_dependencies(name)
    env = gym.make(name)
    return _checked_and_seeded(name, env, gym.spaces.Discrete if discrete else None, seed)


def _checked_and_seeded(name: str, env, discrete_type, seed: int | None):
    """``env`` after :func:`_check_spaces` (unless ``discrete_type`` is None) and, with a
    ``seed``, its first reset and the seeding of its action space."""
    if discrete_type is not None:
        _check_spaces(name, env, discrete_type)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def reset_env(env, seed: int | None = None) -> np.ndarray:
    """Reset a Gymnasium or gym 0.23 environment; return the first observation alone."""
    result = env.reset() if seed is None else env.reset(seed=seed)
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        return result[0]  # Gymnasium: (observation, info)
    return result


def step_env(env, action) -> tuple[np.ndarray, float, bool, bool]:
    """One step of a Gymnasium or gym 0.23 environment: ``(observation, reward, terminated,
    truncated)``. gym's ``done`` is split with its ``info["TimeLimit.truncated"]`` note."""
    result = env.step(action)
    if len(result) == 5:  # Gymnasium
        observation, reward, terminated, truncated, _ = result
        return observation, float(reward), bool(terminated), bool(truncated)
    observation, reward, done, info = result
    truncated = bool(done and info.get("TimeLimit.truncated", False))
    return observation, float(reward), bool(done and not truncated), truncated


def start_observations(
    name: str, count: int = 20, first_seed: int = 10_000, *, library: str = "gymnasium"
) -> np.ndarray:
    """``count`` first observations of ``name``, reset with seeds ``first_seed``, ``+1``, ...

    The same states every time: a trainer evaluates its value estimates on them as it learns.
    ``library="gym"`` takes them from gym 0.23 (for environments registered only there, such
    as notebook 06's grid world, and for the TF-Agents trainers that load gym's).
    """
    _check_library(library)
    env = make_env(name) if library == "gymnasium" else make_gym_env(name)
    try:
        starts = [reset_env(env, seed=first_seed + i) for i in range(count)]
        return np.stack(starts).astype(np.float32)
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


def _is_gymnasium(env) -> bool:
    try:
        import gymnasium
    except ImportError:
        return False
    return isinstance(env, gymnasium.Env)


def render_frame(env) -> np.ndarray:
    """One RGB frame (height x width x 3, uint8) from a Gymnasium, gym, Python or TF environment.

    A Gymnasium environment draws frames only when made with ``render_mode="rgb_array"``.
    """
    if _is_gymnasium(env):
        if env.render_mode != "rgb_array":
            raise RuntimeError(
                f"This Gymnasium environment was made with render_mode={env.render_mode!r}; "
                "make it with render_mode='rgb_array' (e.g. envs.make_env(name, "
                "render_mode='rgb_array')) to get frames."
            )
        frame = env.render()
    else:
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
    compiled once), or a Gymnasium environment made with ``render_mode="rgb_array"`` (or a
    gym 0.23 one) with a function from one observation to one action; it plays until the
    episode terminates or is truncated. ``seed`` resets a Gymnasium or gym environment with
    that seed. Call ``runtime.setup()`` first, so that frames can be rendered headless.
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
    else:  # Gymnasium (or gym): a function from one observation to one action
        state = reset_env(env, seed)

        def step(observation):
            observation, reward, terminated, truncated = step_env(env, policy(observation))
            return observation, reward, terminated or truncated  # the episode is over

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
