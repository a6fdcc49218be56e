"""Measure first: micro-benchmarks of the pieces of a DQN training loop, and env throughput.

Taught in notebook 09. :func:`time_per_call` times any function; :func:`dqn_loop_pieces`
times, one by one, what an iteration of notebook 03's loop (``utils.agents.dqn.train``) does: an
environment step, a policy call, a replay insert, drawing a sample, a train step (the loop's
own, ``dqn.make_train_step``, passed in: this layer imports no agent).
:func:`gym_loop_steps_per_second` and :func:`batched_py_steps_per_second` measure how fast
CartPole steps in Python (``benchmarks/env_throughput.py`` prints them next to the in-graph
CartPole of ``utils.envs.tf_cartpole``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def time_per_call(
    fn: Callable[[], object], *, min_seconds: float = 0.3, warmup: int = 2, rounds: int = 3
) -> float:
    """Seconds per call of ``fn()``: the best of ``rounds`` timed loops, after ``warmup`` calls.

    Each round calls ``fn`` for about ``min_seconds / rounds``. Taking the fastest round, as
    ``timeit`` does, keeps other programs on a shared machine from inflating the figure.
    """
    if min_seconds <= 0 or rounds < 1:
        raise ValueError(
            f"min_seconds must be > 0 and rounds >= 1; got {min_seconds!r}, {rounds!r}."
        )
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / rounds:
                break
        best = min(best, elapsed / calls)
    return best


def gym_loop_steps_per_second(seconds: float = 1.0, seed: int = 0) -> float:
    """Random-action steps per second of one Gym CartPole-v1 in a plain Python loop."""
    import gym

    env = gym.make("CartPole-v1")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    steps, start = 0, time.perf_counter()
    while True:
        for _ in range(1000):
            _, _, done, _ = env.step(env.action_space.sample())
            if done:
                env.reset()
        steps += 1000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def batched_py_steps_per_second(env, seconds: float = 1.0, seed: int = 0, policy=None) -> float:
    """Environment steps per second of a ``BatchedPyEnvironment`` of CartPoles.

    ``env`` comes from ``utils.envs.batched_env("CartPole-v1", batch_size)``. Without
    ``policy`` the actions are random numbers; with a TF-Agents policy (e.g. a
    ``PyTFEagerPolicy``) every batch step also makes one policy call for the whole batch.
    """
    batch_size = int(env.batch_size)
    rng = np.random.default_rng(seed)
    time_step = env.reset()
    if policy is not None:  # the first calls trace the policy's tf.function: not timed
        for _ in range(2):
            time_step = env.step(np.asarray(policy.action(time_step).action))
    steps, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            if policy is None:
                action = rng.integers(0, 2, size=batch_size, dtype=np.int64)
            else:
                action = np.asarray(policy.action(time_step).action)
            time_step = env.step(action)  # auto-resets finished episodes
        steps += 10 * batch_size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def dqn_loop_pieces(
    env, agent, memory, train_step, *, sample_size: int, seed: int = 0, min_seconds: float = 0.3
) -> dict[str, float]:
    """Seconds per call of each piece of notebook 03's loop, timed separately.

    ``env``, ``agent`` and ``memory`` (a replay from ``utils.rl.replay.make_replay``) are
    built as ``utils.agents.dqn.train_from_scratch`` builds them; ``train_step`` is the loop's
    own (``dqn.make_train_step(agent, settings)``). Returns a dict: ``env_step`` (one
    ``PyEnvironment.step``), ``policy_call`` (one ``PyTFEagerPolicy.action`` of the collect
    policy), ``replay_insert`` (one observer call: writing a trajectory step into Reverb, or
    the fallback replay, flushed every 20), ``sample_per_item`` (one 2-step item of a
    ``sample_size`` draw from the dataset), ``train_step`` (one call of ``train_step``) and
    ``driver_step`` (one step of a ``PyDriver`` with all of the above but the train step:
    its excess over the parts is Python overhead).
    """
    from tf_agents.drivers import py_driver
    from tf_agents.policies import py_tf_eager_policy, random_py_policy
    from tf_agents.trajectories import trajectory

    fill = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=seed)
    py_driver.PyDriver(env, fill, [memory.observer], max_steps=sample_size).run(env.reset())
    policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True)
    time_step = env.reset()
    action_step = policy.action(time_step)
    results: dict[str, float] = {}

    state = {"time_step": time_step}

    def env_step() -> None:
        next_step = env.step(action_step.action)
        state["time_step"] = env.reset() if next_step.is_last() else next_step

    results["env_step"] = time_per_call(env_step, min_seconds=min_seconds)
    results["policy_call"] = time_per_call(
        lambda: policy.action(state["time_step"]), min_seconds=min_seconds
    )
    first = env.reset()
    second = env.step(action_step.action)
    traj = trajectory.from_transition(first, action_step, second)
    flush = getattr(memory.observer, "flush", lambda: None)  # Reverb's writer has one

    def insert_20() -> None:  # 20 inserts, then wait until the server has them all
        for _ in range(20):
            memory.observer(traj)
        flush()

    results["replay_insert"] = time_per_call(insert_20, min_seconds=min_seconds) / 20
    samples = iter(memory.dataset(sample_size, num_steps=2, prefetch=0))
    results["sample_per_item"] = (
        time_per_call(lambda: next(samples), min_seconds=min_seconds) / sample_size
    )
    sample, _ = next(samples)
    results["train_step"] = time_per_call(
        lambda: float(train_step(sample, 0)), min_seconds=min_seconds
    )
    driver = py_driver.PyDriver(env, policy, [memory.observer], max_steps=64)
    state["time_step"] = env.reset()

    def drive() -> None:
        state["time_step"], _ = driver.run(state["time_step"])

    results["driver_step"] = time_per_call(drive, min_seconds=min_seconds) / 64
    return results


def iteration_breakdown(pieces: dict[str, float], settings) -> dict[str, float]:
    """Seconds one iteration of ``utils.agents.dqn.train`` spends per :func:`dqn_loop_pieces`."""
    n = settings.collect_steps_per_iteration
    parts = {
        "environment step": n * pieces["env_step"],
        "policy call": n * pieces["policy_call"],
        "replay insert": n * pieces["replay_insert"],
        "sampling": settings.sample_size * pieces["sample_per_item"],
        "train steps": settings.train_steps_per_iteration * pieces["train_step"],
    }
    overhead = n * pieces["driver_step"] - parts["environment step"] - parts["policy call"]
    parts["Python overhead (driver)"] = max(overhead - parts["replay insert"], 0.0)
    return parts


def plot_breakdown(
    parts: dict[str, float],
    *,
    title: str = "Where the time goes",
    unit: str = "ms",
    path: str | Path | None = None,
):
    """A horizontal bar chart of seconds per part, shown in ``unit`` ("s", "ms", "us")."""
    import matplotlib.pyplot as plt

    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}
    if unit not in scale:
        raise ValueError(f"unit must be one of {sorted(scale)}; got {unit!r}.")
    names = list(parts)
    values = np.array([parts[k] for k in names]) * scale[unit]
    figure, axis = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    bars = axis.barh(names, values, color="tab:blue")
    axis.invert_yaxis()
    total = values.sum()
    for bar, value in zip(bars, values, strict=True):
        share = f" {value:.3g} {unit} ({100 * value / total:.0f} %)" if total else ""
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, share, va="center")
    axis.set_xlabel(unit)
    axis.set_xlim(0, values.max() * 1.45 if len(values) else 1)
    axis.set_title(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def plot_throughput(
    table: dict[str, dict[int, float]],
    *,
    reference: dict[str, float] | None = None,
    path: str | Path | None = None,
):
    """Steps per second against batch size (log-log), one line per method; returns the figure.

    ``table`` maps a method name to ``{batch_size: steps_per_second}``; ``reference`` draws
    horizontal lines (e.g. the Gym loop).
    """
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name, row in table.items():
        sizes = sorted(row)
        axis.plot(sizes, [row[b] for b in sizes], marker="o", label=name)
    for name, value in (reference or {}).items():
        axis.axhline(value, linestyle="--", color="gray")
        axis.text(1, value * 1.15, name, color="gray")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("environments stepped together (batch size)")
    axis.set_ylabel("environment steps per second")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def train_steps_per_call(
    agent, batch_size: int, ks=(1, 8, 32), *, seed: int = 0, min_seconds: float = 0.3
):
    """Seconds per DQN train step when ``k`` steps run inside one ``tf.function`` call, for each k.

    ``agent`` is a CartPole ``DqnAgent`` (e.g. from ``utils.agents.dqn.build_agent``); it
    trains on random experience of the right shapes (the numbers do not matter for timing).
    Returns ``{k: seconds per train step}``.
    """
    import tensorflow as tf
    from tf_agents.specs import tensor_spec

    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers; got {ks!r}.")
    spec = agent.collect_data_spec
    experience = tensor_spec.sample_spec_nest(spec, outer_dims=(max(ks), batch_size, 2), seed=seed)
    shape = [max(ks), batch_size, 2]
    experience = experience._replace(
        observation=tf.random.uniform([*shape, 4], -0.05, 0.05),
        reward=tf.ones(shape),
        discount=tf.ones(shape),
    )
    results = {}
    for k in ks:

        def k_steps(experience, k=k):
            loss = tf.constant(0.0)
            for i in range(k):  # unrolled: k train steps in one graph
                loss = agent.train(tf.nest.map_structure(lambda t, i=i: t[i], experience)).loss
            return loss

        run = tf.function(k_steps, autograph=False)
        results[k] = (
            time_per_call(lambda run=run: run(experience).numpy(), min_seconds=min_seconds) / k
        )
    return results


def plot_return_vs_time(
    runs: dict[str, tuple[list[float], list[float]]],
    *,
    target: float | None = None,
    path: str | Path | None = None,
):
    """Evaluation return against seconds since the start of training, one line per run."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    figure, axis = plt.subplots(figsize=(7, 4.8))
    for name, (seconds, returns) in runs.items():
        axis.plot(seconds, returns, marker="o", markersize=3, label=name)
    if target is not None:
        axis.axhline(target, linestyle="--", color="gray", label=f"target {target:g}")
    axis.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # 2, 5, 10, 20 rather than 2×10⁰
    axis.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    axis.xaxis.set_major_formatter(plain)
    axis.xaxis.set_minor_formatter(plain)
    axis.set_xlabel("seconds since the start of training (log scale)")
    axis.set_ylabel("average evaluation return")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize="small")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def time_per_env_step(history) -> dict[str, float]:
    """Milliseconds per environment step of a DQN run's loop, by part; they add up to its time.

    Playing is the random fill and the ε-greedy collecting, training the train steps, checking
    the evaluations; "between phases" is the Python bookkeeping that is not timed on its own
    (the loop's time minus the other three). Used by notebook 04.
    """
    t, n = history.timings, history.env_steps
    parts = {"playing": t["fill"] + t["collect"], "training": t["train"], "checking": t["evaluate"]}
    parts["between phases"] = history.seconds - sum(parts.values())
    return {part: 1e3 * seconds / n for part, seconds in parts.items()}


def where_saved(ours, theirs) -> tuple[dict[str, float], dict[str, float]]:
    """Where the milliseconds per environment step that ``ours`` saves over ``theirs`` went.

    Returns ``(saved, ratios)``. ``saved`` maps each part of :func:`time_per_env_step` to the
    milliseconds saved per environment step, with training split in two: the share a setting
    explains (``theirs`` runs more train steps per environment step) and the share the cost
    of one train step explains; the values add up to the whole saving, and a negative one
    means ``ours`` spent more. ``ratios`` holds ``train_steps_per_env_step`` and
    ``cost_per_train_step`` (theirs / ours). Used by notebook 04.
    """
    mine, other = time_per_env_step(ours), time_per_env_step(theirs)
    steps = (theirs.train_steps / theirs.env_steps) / (ours.train_steps / ours.env_steps)
    cost = (theirs.timings["train"] / theirs.train_steps) / (
        ours.timings["train"] / ours.train_steps
    )
    saved = {
        "fewer train steps per env step (a setting)": other["training"] * (1 - 1 / steps),
        "cost per train step": other["training"] / steps - mine["training"],
        "playing": other["playing"] - mine["playing"],
        "checking": other["checking"] - mine["checking"],
        "between phases (bookkeeping)": other["between phases"] - mine["between phases"],
    }
    return saved, {"train_steps_per_env_step": steps, "cost_per_train_step": cost}
