"""Average return of a policy, for Python and TensorFlow environments.

Taught in notebook 01 (the random-policy baseline) and used by every notebook after it.
Works with a single environment or a batch of them (``BatchedPyEnvironment``,
``TFPyEnvironment`` with ``batch_size > 1``): each copy of the environment runs a fixed
share of the episodes, so the average is not biased towards short episodes.
:func:`evaluate_gym` does the same for Gymnasium environments (or gym 0.23 ones) stepped
together, with any function from observations to actions; :func:`policy_actions` turns a
TF-Agents policy into such a function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from utils.envs import reset_env, step_env


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate`: returns of the finished episodes and their mean."""

    mean: float
    returns: list[float] = field(default_factory=list)
    episodes: int = 0
    complete: bool = True

    def reaches(self, target: float | None) -> bool:
        """Whether every episode ran and their mean is at least ``target`` (never for None)."""
        return target is not None and self.complete and self.mean >= target

    def __str__(self) -> str:
        status = "" if self.complete else " (stopped early: target out of reach)"
        episodes = "1 episode" if self.episodes == 1 else f"{self.episodes} episodes"
        return f"average return {self.mean:.1f} over {episodes}{status}"


def _episode_shares(num_episodes: int, batch_size: int) -> np.ndarray:
    """How many episodes each copy of a batched environment must finish."""
    shares = np.full(batch_size, num_episodes // batch_size)
    shares[: num_episodes % batch_size] += 1
    return shares


def _out_of_reach(
    returns: list[float], num_episodes: int, target: float | None, best: float | None
) -> bool:
    """Whether even ``best``-return remaining episodes could not lift the mean to ``target``."""
    if target is None or not returns:
        return False
    best_possible = sum(returns) + (num_episodes - len(returns)) * best
    return best_possible / num_episodes < target


def _make_step(env, policy):
    """Return ``(reset, step, batch_size)`` functions that speak numpy for any env/policy pair."""
    from tf_agents.environments import py_environment, tf_environment
    from tf_agents.policies import py_policy, py_tf_eager_policy, tf_policy

    if isinstance(env, tf_environment.TFEnvironment):
        if not isinstance(policy, tf_policy.TFPolicy):
            raise TypeError(
                "A TensorFlow environment needs a TensorFlow policy (e.g. agent.policy or "
                f"RandomTFPolicy); got {type(policy).__name__}."
            )

        def step(time_step):
            return env.step(policy.action(time_step).action)

        return env.reset, step, int(env.batch_size or 1)

    if isinstance(env, py_environment.PyEnvironment):
        batched = bool(env.batched)
        batch_size = int(env.batch_size or 1) if batched else 1
        if isinstance(policy, tf_policy.TFPolicy):
            policy = py_tf_eager_policy.PyTFEagerPolicy(
                policy, use_tf_function=True, batch_time_steps=not batched
            )
        elif not isinstance(policy, py_policy.PyPolicy):
            raise TypeError(
                "policy must be a TF-Agents policy (TFPolicy or PyPolicy), "
                f"got {type(policy).__name__}."
            )

        def step(time_step):
            action = policy.action(time_step).action
            # A TF policy on a batched Python environment hands back tensors.
            return env.step(np.asarray(action))

        return env.reset, step, batch_size

    hint = ""
    if hasattr(env, "observation_space"):
        hint = (
            " It looks like a Gymnasium (or gym) environment: evaluate it with evaluate_gym, or "
            "load it for TF-Agents with envs.load_env(name)."
        )
    raise TypeError(
        f"env must be a TF-Agents PyEnvironment or TFEnvironment, got {type(env).__name__}.{hint}"
    )


def _check_request(num_episodes, target, max_episode_return) -> None:
    """The arguments :func:`evaluate` and :func:`evaluate_gym` share, checked the same way."""
    if not isinstance(num_episodes, int | np.integer) or num_episodes < 1:
        raise ValueError(f"num_episodes must be a whole number >= 1, got {num_episodes!r}.")
    if (target is None) != (max_episode_return is None):
        raise ValueError("Give both target and max_episode_return for early stopping, or neither.")


def evaluate(
    env,
    policy,
    num_episodes: int,
    *,
    target: float | None = None,
    max_episode_return: float | None = None,
    max_steps: int = 10_000_000,
) -> EvalResult:
    """Run ``num_episodes`` episodes of ``policy`` in ``env`` and return their returns and mean.

    With ``target`` and ``max_episode_return`` (e.g. 475 and 500 on CartPole-v1) it stops as
    soon as even perfect remaining episodes could not lift the mean to ``target``; the result
    then has ``complete=False`` and its mean covers only the finished episodes.
    """
    _check_request(num_episodes, target, max_episode_return)

    reset, step, batch_size = _make_step(env, policy)
    shares = _episode_shares(int(num_episodes), batch_size)
    finished = np.zeros(batch_size, dtype=int)
    running = np.zeros(batch_size)
    returns: list[float] = []

    time_step = reset()
    for _ in range(max_steps):
        if np.all(finished >= shares):
            break
        time_step = step(time_step)
        rewards = np.asarray(time_step.reward, dtype=float).reshape(batch_size)
        is_last = np.asarray(time_step.is_last()).reshape(batch_size)
        active = finished < shares
        running += np.where(active, rewards, 0.0)
        for i in np.flatnonzero(is_last & active):
            returns.append(float(running[i]))
            finished[i] += 1
            running[i] = 0.0
        if _out_of_reach(returns, num_episodes, target, max_episode_return):
            return EvalResult(float(np.mean(returns)), returns, len(returns), complete=False)
    else:
        raise RuntimeError(
            f"Evaluation ran {max_steps} steps without finishing {num_episodes} episodes. "
            "Does the environment ever end an episode? Add a step limit (e.g. "
            "suite_gym.load(name, max_episode_steps=...)) or raise max_steps."
        )
    mean = float(np.mean(returns)) if returns else math.nan
    return EvalResult(mean, returns, len(returns), complete=True)


def _gym_action(action):
    """One action as Gymnasium expects it: a plain int for a discrete action, else the array."""
    action = np.asarray(action)
    if action.ndim == 0 and np.issubdtype(action.dtype, np.integer):
        return int(action)
    return action


def evaluate_gym(
    envs: list,
    actions: Callable[[np.ndarray], np.ndarray],
    num_episodes: int,
    *,
    target: float | None = None,
    max_episode_return: float | None = None,
    seed: int | None = None,
    max_steps: int = 1_000_000,
) -> EvalResult:
    """Like :func:`evaluate`, for Gymnasium envs stepped together and a plain policy function.

    ``actions`` maps a batch of observations to a batch of actions (one call per step for all
    envs still playing). An episode ends when it terminates or is truncated. Each env plays a
    fixed share of the episodes; with ``seed`` env ``i`` is first reset with ``seed + i``.
    Early stopping works as in :func:`evaluate`. gym 0.23 envs (the old API, one ``done``
    flag) work too.
    """
    _check_request(num_episodes, target, max_episode_return)
    if not envs:
        raise ValueError("Give at least one environment to evaluate on.")
    shares = _episode_shares(int(num_episodes), len(envs))
    finished = np.zeros(len(envs), dtype=int)
    running = np.zeros(len(envs))
    observations = [
        np.asarray(reset_env(env, None if seed is None else seed + i), np.float32)
        for i, env in enumerate(envs)
    ]
    returns: list[float] = []
    for _ in range(max_steps):
        active = np.flatnonzero(finished < shares)
        if active.size == 0:
            break
        chosen = actions(np.stack([observations[i] for i in active]))
        for i, action in zip(active, chosen, strict=True):
            observation, reward, terminated, truncated = step_env(envs[i], _gym_action(action))
            running[i] += reward
            if terminated or truncated:  # the episode is over, whichever way it ended
                returns.append(float(running[i]))
                finished[i] += 1
                running[i] = 0.0
                observation = reset_env(envs[i])
            observations[i] = np.asarray(observation, np.float32)
        if _out_of_reach(returns, num_episodes, target, max_episode_return):
            return EvalResult(float(np.mean(returns)), returns, len(returns), complete=False)
    else:
        raise RuntimeError(
            f"Evaluation ran {max_steps} steps without finishing {num_episodes} episodes. "
            "Does the environment ever end an episode? Give it a step limit or raise max_steps."
        )
    return EvalResult(float(np.mean(returns)), returns, len(returns), complete=True)


def policy_actions(policy) -> Callable[[np.ndarray], np.ndarray]:
    """A TF-Agents TF policy (e.g. ``agent.policy``) as a function for :func:`evaluate_gym`.

    The function maps a batch of observations (any batch size) to a batch of actions with one
    compiled call: it builds the first-step ``TimeStep`` the policy expects around them. Only
    for policies without state that read nothing but the observation, such as a greedy DQN
    policy.
    """
    import tensorflow as tf
    from tf_agents.policies import tf_policy
    from tf_agents.trajectories import time_step as ts

    if not isinstance(policy, tf_policy.TFPolicy):
        raise TypeError(
            "policy_actions needs a TensorFlow policy such as agent.policy; "
            f"got {type(policy).__name__}."
        )
    if policy.policy_state_spec:
        raise ValueError("policy_actions works for policies without state (e.g. no RNN).")
    spec = policy.time_step_spec.observation
    if not isinstance(spec, tf.TensorSpec):
        raise ValueError("policy_actions needs a single observation tensor, not a nest.")

    specs = policy.time_step_spec

    @tf.function(input_signature=[tf.TensorSpec([None, *spec.shape], spec.dtype)], autograph=False)
    def act(observations):
        batch = tf.shape(observations)[:1]
        time_step = ts.TimeStep(
            step_type=tf.fill(batch, tf.cast(ts.StepType.FIRST, specs.step_type.dtype)),
            reward=tf.nest.map_structure(
                lambda s: tf.zeros(tf.concat([batch, s.shape], 0), s.dtype), specs.reward
            ),
            discount=tf.ones(batch, specs.discount.dtype),
            observation=observations,
        )
        return policy.action(time_step).action

    dtype = spec.dtype.as_numpy_dtype
    return lambda observations: act(np.asarray(observations, dtype)).numpy()


def average_return(env, policy, num_episodes: int = 10) -> float:
    """Mean undiscounted return of ``policy`` over ``num_episodes`` episodes of ``env``."""
    return evaluate(env, policy, num_episodes).mean
