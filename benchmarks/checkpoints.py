"""Checkpoints on the from-scratch DQN (notebook 11): what they cost, and kill-and-resume trials.

1. **Overhead.** The same run of ``utils.agents.dqn_scratch.train`` (the course's settings on
   CartPole-v1, a fixed budget of environment steps and never "solved", so every run does the
   same work) without checkpoints and with a checkpoint every ``--every`` train steps (and one
   at the end), each run in a fresh process, the two alternating seed by seed. Reported: the
   median wall time of each, their ratio, and the seconds spent inside the saves.
2. **Kill and resume.** Per trial (seed): ``scripts/train_dqn.py`` trains until solved without
   interruption; then again with a checkpoint every ``--trial-every`` train steps, killed with
   SIGKILL after a random delay (uniform between the first checkpoint and 60 % of the
   uninterrupted run's training time), then ``--resume``\\ d from its folder. Reported: where it was
   killed, what the newest checkpoint held, whether the resumed run solved, its 100-episode mean,
   and its environment steps to solve against the uninterrupted run's (the from-scratch DQN is
   deterministic, so the difference should be 0).

    python benchmarks/checkpoints.py                  # 5 overhead pairs, 5 kill trials
    python benchmarks/checkpoints.py --pairs 3 --trials 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dqn_cartpole import REPO_ROOT, print_result, run_in_subprocess

TRAIN = REPO_ROOT / "scripts" / "train_dqn.py"
ARMS = ("none", "every")


def budget_settings():
    """The course's settings on a fixed budget: never solved, checks every 10 iterations."""
    from utils.agents import dqn_scratch

    s = dqn_scratch.COURSE
    return s.replace(
        target_return=None,
        max_episode_return=None,
        max_env_steps=s.initial_collect_steps + 40 * s.collect_steps_per_iteration,
        eval_interval=10,
    )


def one_run(arm: str, seed: int, every: int) -> dict:
    """One budget run in this process, with or without checkpoints; its figures."""
    from utils.agents import dqn_scratch
    from utils.infra import runtime
    from utils.rl.checkpoints import Checkpoints, size_on_disk

    runtime.quiet_tensorflow()
    settings = budget_settings()
    with tempfile.TemporaryDirectory() as folder:
        saver = Checkpoints(folder, every=every, log=None) if arm == "every" else None
        began = time.perf_counter()
        _, history = dqn_scratch.train(settings, seed=seed, progress=False, checkpoints=saver)
        seconds = time.perf_counter() - began
        size = size_on_disk(folder)
    return {
        "settings": arm,
        "seed": seed,
        "seconds": seconds,
        "train_steps": history.train_steps,
        "env_steps": history.env_steps,
        "saves": len(saver.saves) if saver else 0,
        "save_seconds": sum(saver.saves) if saver else 0.0,
        "bytes": size,
    }


def script(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(TRAIN), *args], env=env, **kwargs)


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def trial(seed: int, every: int, rng: random.Random, folder: Path) -> dict:
    """One kill-and-resume trial on ``seed``; its figures."""
    common = ["--seed", str(seed), "--no-video", "--no-progress"]
    whole_out, killed_out = folder / f"whole-{seed}", folder / f"killed-{seed}"
    began = time.perf_counter()
    whole_run = script(*common, "--checkpoint-every", "0", "--out", str(whole_out),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _, error = whole_run.communicate()
    if whole_run.returncode != 0:
        return {"seed": seed, "error": error.decode().strip().splitlines()[-1]}
    whole = metrics(whole_out)
    result = {"seed": seed, "whole_seconds": time.perf_counter() - began}
    from utils.rl.checkpoints import Checkpoints

    for attempt in range(3):  # noqa: B007 - a child that finishes before its kill is tried again
        shutil.rmtree(killed_out, ignore_errors=True)
        child = script(*common, "--checkpoint-every", str(every), "--out", str(killed_out),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        folder_of = Checkpoints(killed_out / "checkpoints", log=None)
        try:
            while not folder_of.entries() and child.poll() is None:
                time.sleep(0.01)
            delay = rng.uniform(0.0, 0.6 * whole["seconds"])
            time.sleep(delay)
            killed = child.poll() is None
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        if killed:
            break
    else:
        return {**result, "error": "the child finished before every kill (3 attempts)"}
    newest = folder_of.latest()
    kept = json.loads((newest / "meta.json").read_text())["progress"] if newest else None
    resumed_run = script("--resume", str(killed_out), "--no-video", "--no-progress",
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _, error = resumed_run.communicate()
    if resumed_run.returncode != 0:
        return {**result, "error": error.decode().strip().splitlines()[-1]}
    resumed = metrics(killed_out)
    return {
        **result,
        "attempts": attempt + 1,
        "delay": delay,
        "kept_env_steps": kept["env_steps"] if kept else 0,
        "kept_train_steps": kept["train_steps"] if kept else 0,
        "kept_finished": bool(kept and kept["finished"]),
        "solved": resumed["solved"],
        "solved_return": resumed["solved_return"],
        "env_steps_to_solve": resumed["env_steps_to_solve"],
        "whole_env_steps_to_solve": whole["env_steps_to_solve"],
        "same_losses": resumed["history"]["losses"] == whole["history"]["losses"],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="overhead pairs (seeds)")
    parser.add_argument("--every", type=int, default=1000, help="train steps between saves")
    parser.add_argument("--trials", type=int, default=5, help="kill-and-resume trials")
    parser.add_argument("--trial-every", type=int, default=128, help="trials' save interval")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--one-run", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--max-iterations", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one_run:  # inside the fresh process
        sys.path.insert(0, str(REPO_ROOT))
        return print_result(one_run(args.one_run, args.seed, args.every))
    sys.path.insert(0, str(REPO_ROOT))
    print(
        f"Checkpoints of the from-scratch DQN on CartPole-v1, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU cores, {platform.machine()}"
    )
    if args.pairs:
        s = budget_settings()
        print(
            f"1. overhead: {s.max_env_steps:,} environment steps, "
            f"{(s.max_env_steps - s.initial_collect_steps) // s.collect_steps_per_iteration * s.train_steps_per_iteration:,} "  # noqa: E501
            f"train steps per run, no checkpoints vs one every {args.every:,} train steps"
        )
    runs: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    for seed in range(args.first_seed, args.first_seed + args.pairs):
        arms = ARMS if seed % 2 == 0 else ARMS[::-1]  # alternate which goes first
        for arm in arms:
            r = run_in_subprocess(arm, seed, None, args.timeout, script=__file__)
            runs[arm].append(r)
            if "error" in r:
                print(f"  {arm:>5} seed {seed:2d}: ERROR {r['error']}")
                continue
            print(
                f"  {arm:>5} seed {seed:2d}: {r['seconds']:6.1f} s | {r['train_steps']:,} train "
                f"steps | {r['saves']} saves, {r['save_seconds']:.2f} s in them | "
                f"{r['bytes'] / 2**20:.1f} MiB on disk"
            )
    if args.pairs and all("error" not in r for arm in ARMS for r in runs[arm]):
        none = statistics.median(r["seconds"] for r in runs["none"])
        every = statistics.median(r["seconds"] for r in runs["every"])
        saves = statistics.median(r["save_seconds"] / r["seconds"] for r in runs["every"])
        per_save = statistics.median(
            r["save_seconds"] / r["saves"] for r in runs["every"] if r["saves"]
        )
        print(
            f"overhead: median {every:.1f} s with checkpoints vs {none:.1f} s without "
            f"(ratio {every / none:.3f}, {100 * (every / none - 1):+.1f} %); saves take a median "
            f"{100 * saves:.1f} % of a run's time, {per_save:.2f} s each"
        )

    if args.trials:
        print(
            f"2. kill and resume: checkpoint every {args.trial_every} train steps, SIGKILL after "
            "a random delay, then --resume; the uninterrupted run on the same seed beside it"
        )
    rng = random.Random(12345)
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.first_seed, args.first_seed + args.trials):
            t = trial(seed, args.trial_every, rng, Path(folder))
            outcomes.append(t)
            if "error" in t:
                print(f"  trial seed {seed:2d}: ERROR {t['error']}")
                continue
            difference = t["env_steps_to_solve"] - t["whole_env_steps_to_solve"]
            print(
                f"  trial seed {seed:2d}: killed {t['delay']:.1f} s after its first checkpoint "
                f"(attempt {t['attempts']}); newest checkpoint {t['kept_train_steps']:,} train "
                f"steps, {t['kept_env_steps']:,} env steps"
                + (
                    " (training had ended: killed while writing its outputs)"
                    if t["kept_finished"]
                    else ""
                )
                + " | resumed: "
                f"{'solved' if t['solved'] else 'NOT solved'} {t['solved_return']:.1f} at "
                f"{t['env_steps_to_solve']:,} env steps; uninterrupted "
                f"{t['whole_env_steps_to_solve']:,} (difference {difference:+d}); same losses: "
                f"{t['same_losses']}"
            )
    if args.trials:
        good = [t for t in outcomes if "error" not in t and t["solved"]]
        exact = [t for t in good if t["env_steps_to_solve"] == t["whole_env_steps_to_solve"]]
        during = [t for t in outcomes if "error" not in t and not t["kept_finished"]]
        print(
            f"kill and resume: {len(during)}/{len(outcomes)} killed while training; "
            f"{len(good)}/{len(outcomes)} solved after the resume; "
            f"{len(exact)}/{len(outcomes)} solved at exactly the uninterrupted run's step"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
