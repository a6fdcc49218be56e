"""Play a saved policy with TensorFlow and Gymnasium only: no course code, no TF-Agents.

Examples:
    python scripts/play_saved_policy.py build/train_dqn/CartPole-v1-seed0/saved_policy
    python scripts/play_saved_policy.py POLICY_FOLDER --env-name CartPole-v1 --episodes 100

Loads a SavedModel written by TF-Agents' ``PolicySaver`` (notebook 11) or by the course's
``export_greedy`` (``scripts/train_dqn.py`` writes one), prints its ``action`` signature, its
size on disk and its time per action (one observation per call, and a batch per call), then
plays ``--episodes`` episodes, all environments stepped together, and prints their mean
return. ``--json`` prints the figures as one JSON line instead. This file imports nothing of
the course on purpose: copy it next to a saved policy and it runs wherever TensorFlow and
Gymnasium do. Bad input ends the program with a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


class PolicyError(ValueError):
    """A folder or an environment that this policy cannot be played with."""


def size_on_disk(folder: Path) -> int:
    """Bytes of all files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def load_policy(folder: Path):
    """``(act, kind, inputs, outputs, observation shape)`` of the saved policy in ``folder``.

    ``act`` maps a batch of observations to a batch of actions. It runs the SavedModel's
    ``action`` *signature* (a graph with named inputs and outputs), which needs TensorFlow
    only. (``tf.saved_model.load`` would also rebuild the Python objects around it, and for a
    ``PolicySaver`` policy those name TensorFlow Probability types: without that library it
    stops with "The type 'tfp.distributions...' has not been registered".)
    """
    if not folder.is_dir():
        raise PolicyError(f"{folder} is not a folder: give the folder the policy was saved to.")
    if not (folder / "saved_model.pb").is_file():
        raise PolicyError(
            f"{folder} is not a SavedModel (it has no saved_model.pb): give the folder that "
            "PolicySaver.save or export_greedy wrote."
        )
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # the graph loader is "deprecated": quiet about it
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        saved = tf.compat.v1.saved_model.load(session, ["serve"], str(folder))
    if "action" not in saved.signature_def:
        raise PolicyError(
            f"{folder} is a SavedModel without an 'action' signature (it has "
            f"{sorted(saved.signature_def)}): it is not a saved policy."
        )
    signature = saved.signature_def["action"]
    inputs, outputs = dict(signature.inputs), dict(signature.outputs)
    by_role = {key.split("/")[-1]: info.name for key, info in inputs.items()}
    if "observation" not in by_role or "action" not in outputs:
        raise PolicyError(f"{folder}: its action signature is not a policy's ({sorted(inputs)}).")
    observation_key = next(key for key in inputs if key.endswith("observation"))
    shape = tuple(tf.TensorShape(inputs[observation_key].tensor_shape).as_list()[1:])
    action_name = outputs["action"].name

    if "step_type" in by_role:  # TF-Agents' PolicySaver: a whole TimeStep goes in
        kind = "TF-Agents policy (PolicySaver)"

        def act(observations):
            batch = len(observations)
            feed = {
                by_role["observation"]: observations,
                by_role["step_type"]: np.ones(batch, np.int32),  # MID: not a first step
                by_role["reward"]: np.zeros(batch, np.float32),
                by_role["discount"]: np.ones(batch, np.float32),
            }
            return session.run(action_name, feed)

    else:  # export_greedy: observations in, actions out
        kind = "greedy Q-network (export_greedy)"

        def act(observations):
            return session.run(action_name, {by_role["observation"]: observations})

    described = {
        "inputs": {key: describe(tf, info) for key, info in inputs.items()},
        "outputs": {key: describe(tf, info) for key, info in outputs.items()},
    }
    return act, kind, described, shape


def describe(tf, info) -> str:
    """A signature entry as ``dtype[shape]``, e.g. ``float32[None, 4]``."""
    shape = tf.TensorShape(info.tensor_shape).as_list()
    return f"{tf.dtypes.as_dtype(info.dtype).name}{shape}"


def check_environment(env, wanted: tuple, folder: Path, env_name: str) -> None:
    """One clear line when the environment's observations do not fit the policy."""
    given = tuple(env.observation_space.shape or ())
    if wanted != given:
        raise PolicyError(
            f"the policy in {folder} takes observations of shape {wanted}, but {env_name} "
            f"gives {given}: play it on the environment it was trained on."
        )


def latency(act, observations: np.ndarray, calls: int = 200) -> float:
    """Median seconds per call of ``act`` on ``observations`` (after a warm-up call)."""
    act(observations)
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        act(observations)
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def play(act, env_name: str, episodes: int, seed: int) -> list[float]:
    """Returns of ``episodes`` episodes, one environment per episode, all stepped together."""
    import gymnasium

    games = [gymnasium.make(env_name) for _ in range(episodes)]
    observations = np.array([g.reset(seed=seed + i)[0] for i, g in enumerate(games)], np.float32)
    returns, running = [None] * episodes, np.zeros(episodes)
    playing = list(range(episodes))
    while playing:
        actions = act(observations[playing])
        for i, action in zip(list(playing), actions, strict=True):
            observation, reward, terminated, truncated, _ = games[i].step(int(action))
            running[i] += reward
            observations[i] = observation
            if terminated or truncated:  # the episode is over
                returns[i] = float(running[i])
                playing.remove(i)
    for game in games:
        game.close()
    return returns


def main(argv: list[str] | None = None) -> int:
    """Load, describe, time and play a saved policy; 0 on success, 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="play_saved_policy.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("folder", type=Path, help="the SavedModel folder of a saved policy")
    parser.add_argument(
        "--env-name", default="CartPole-v1", help="a Gymnasium id (default: CartPole-v1)"
    )
    parser.add_argument("--episodes", type=int, default=100, help="episodes to play (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="first episode's seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1.")
    try:
        act, kind, signature, shape = load_policy(args.folder)
        import gymnasium

        try:
            env = gymnasium.make(args.env_name)
        except gymnasium.error.Error as error:
            raise PolicyError(f"--env-name {args.env_name}: {error}") from error
        check_environment(env, shape, args.folder, args.env_name)
        one = np.asarray(env.reset(seed=args.seed)[0], np.float32)[None]
        env.close()
    except PolicyError as error:
        print(f"play_saved_policy.py: error: {error}", file=sys.stderr)
        return 2

    batch = np.repeat(one, 100, axis=0)
    figures = {
        "kind": kind,
        **signature,
        "bytes": size_on_disk(args.folder),
        "seconds_per_action_one": latency(act, one),
        "seconds_per_action_batched": latency(act, batch) / len(batch),
        "returns": play(act, args.env_name, args.episodes, args.seed),
        "course_code_imported": any(name.split(".")[0] == "utils" for name in sys.modules),
        "tf_agents_imported": "tf_agents" in sys.modules,
    }
    figures["mean_return"] = float(np.mean(figures["returns"]))
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{args.folder}: {kind}, {figures['bytes'] / 1024:.0f} KiB on disk")
    print("  action signature in: " + ", ".join(f"{k} {v}" for k, v in figures["inputs"].items()))
    print("  action signature out: " + ", ".join(f"{k} {v}" for k, v in figures["outputs"].items()))
    print(
        f"  time per action: {figures['seconds_per_action_one'] * 1e3:.2f} ms one at a time, "
        f"{figures['seconds_per_action_batched'] * 1e6:.1f} µs in batches of {len(batch)}"
    )
    print(
        f"  {args.episodes} episodes of {args.env_name}: mean return {figures['mean_return']:.1f}"
        f" (min {min(figures['returns']):.0f}, max {max(figures['returns']):.0f})"
    )
    print(
        f"  imported: course code {'yes' if figures['course_code_imported'] else 'no'}, "
        f"TF-Agents {'yes' if figures['tf_agents_imported'] else 'no'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
