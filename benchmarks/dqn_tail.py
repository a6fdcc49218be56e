"""The slow tail of DQN on CartPole-v1: many seeds, several settings, what each run went through.

Until 2026-12-02 the course's DQN copied its target network every 128 train steps (a hard
sync). Most of its runs solved CartPole-v1 in a few thousand environment steps, but about one
in ten needed five times more. This benchmark looked at why, tried settings that might help,
and found the one the course uses now: a soft update of the target network (τ = 0.01 after
every train step). It trains the from-scratch DQN of notebook 07 (``utils.agents.dqn_scratch``),
which has no Reverb and is repeatable seed by seed, so a slow seed can be studied again. For
every seed it runs each setting in turn and prints one line per run: environment steps and
seconds to solve, and the story of its quick checks (the best one before the last, and the
lowest after that best: a run whose checks climbed to 300 and then fell to 20 lost a good
policy). Then, per setting, the median, the largest run, and how many runs needed more than
``--slow`` environment steps.

    python benchmarks/dqn_tail.py                          # the course against the hard sync
    python benchmarks/dqn_tail.py --settings course --seeds 40
    python benchmarks/dqn_tail.py --settings hard-sync target-256 --first-seed 20
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The course's settings before 2026-12-02: the target network copied every 128 train steps.
HARD_SYNC = {"target_update_period": 128, "target_update_tau": 1.0}

# name -> changes to the course's settings. The records before 2026-12-02 compared changes to
# the settings of then, the hard sync (called "course" in them); those arms keep it.
ARMS: dict[str, dict] = {
    "course": {},  # soft target updates: C = 1, τ = 0.01
    "hard-sync": HARD_SYNC,
    "soft-0.005": {"target_update_tau": 0.005},  # the target follows half as fast
    "batch-128": {**HARD_SYNC, "batch_size": 128},  # less noise in each gradient step
    "epsilon-end-0.1": {**HARD_SYNC, "epsilon_end": 0.1},  # more exploration once ε has decayed
    "double": {**HARD_SYNC, "double": True},  # Double DQN targets: less overestimation
    # Tried later, one setting per run (records/dqn_tail_more_settings_2026-12-02.txt):
    "target-256": {**HARD_SYNC, "target_update_period": 256},  # synced half as often
    "lr-5e-4": {**HARD_SYNC, "learning_rate": 5e-4},  # half Adam's step size
    "train-64": {**HARD_SYNC, "train_steps_per_iteration": 64},  # half the train steps
    "epsilon-decay-2000": {
        **HARD_SYNC,
        "epsilon_decay_steps": 2000,
    },  # ε falls over twice the steps
    "double-batch-128": {**HARD_SYNC, "double": True, "batch_size": 128},
    "clip-1": {**HARD_SYNC, "gradient_clipping": 1.0},  # global gradient norm clipped at 1, not 10
    "double-lr-5e-4": {**HARD_SYNC, "double": True, "learning_rate": 5e-4},
    "double-clip-1": {**HARD_SYNC, "double": True, "gradient_clipping": 1.0},
    "lr-5e-4-clip-1": {**HARD_SYNC, "learning_rate": 5e-4, "gradient_clipping": 1.0},
    "target-192": {**HARD_SYNC, "target_update_period": 192},  # between 128 and 256
    "target-32": {**HARD_SYNC, "target_update_period": 32},  # synced four times as often
}

FIRST_ARMS = ("course", "hard-sync")  # the soft update against the settings it replaced


def one_run(name: str, seed: int) -> dict:
    """Train once with the setting ``name`` and ``seed``; return what happened."""
    from utils.agents import dqn_scratch

    settings = dqn_scratch.COURSE.replace(**ARMS[name])
    _, history = dqn_scratch.train(settings, seed=seed, progress=False)
    checks = history.eval_returns
    before_last = checks[:-1] or [float("nan")]
    best = max(before_last)
    after_best = before_last[before_last.index(best) :] if checks[:-1] else before_last
    return {
        "name": name,
        "seed": seed,
        "solved": history.solved,
        "env_steps": history.env_steps_to_solve or history.env_steps,
        "seconds": history.seconds_to_solve or history.seconds,
        "checks": len(checks),
        "best_before_last": best,
        "lowest_after_best": min(after_best),
    }


def print_run(run: dict) -> None:
    """One line per run."""
    status = "solved" if run["solved"] else "NOT solved"
    print(
        f"{run['name']:>16} seed {run['seed']:2d}: {status} | {run['env_steps']:7,} env steps | "
        f"{run['seconds']:6.1f} s | {run['checks']:3d} quick checks, the best before the last "
        f"{run['best_before_last']:5.0f}, the lowest after it {run['lowest_after_best']:5.0f}",
        flush=True,
    )


def summarize(name: str, runs: list[dict], slow: int) -> None:
    """Medians, the largest run and the slow runs of one setting."""
    steps = [r["env_steps"] for r in runs]
    solved = sum(r["solved"] for r in runs)
    late = [r for r in runs if r["env_steps"] > slow]
    # A good policy lost: the checks reached 150, then fell below 75 (half of that).
    collapsed = [r for r in late if r["best_before_last"] >= 150 > r["lowest_after_best"] * 2]
    print(f"\n{name}: solved {solved}/{len(runs)}")
    print(f"  median env steps to solve:   {statistics.median(steps):,.0f}")
    print(f"  largest env steps to solve:  {max(steps):,}")
    print(f"  median seconds to solve:     {statistics.median(r['seconds'] for r in runs):.1f}")
    print(f"  runs over {slow:,} env steps: {len(late)} of {len(runs)}", end="")
    print(f" (seeds {', '.join(str(r['seed']) for r in late)})" if late else "")
    print(f"  ... of which checks reached 150 then fell below half: {len(collapsed)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(ARMS),
        default=list(FIRST_ARMS),
        metavar="NAME",
        help=f"settings to compare, of: {', '.join(ARMS)}",
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds per setting")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--slow", type=int, default=10_000, help="env steps that count as slow")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.slow < 1:
        parser.error("--seeds and --slow must be at least 1")

    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(
        f"From-scratch DQN on CartPole-v1, {time.strftime('%Y-%m-%d %H:%M')}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores, {platform.machine()}"
    )
    runs: dict[str, list[dict]] = {name: [] for name in args.settings}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.settings:  # seed by seed, every setting in turn
            run = one_run(name, seed)
            runs[name].append(run)
            print_run(run)
    for name, results in runs.items():
        summarize(name, results, args.slow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
