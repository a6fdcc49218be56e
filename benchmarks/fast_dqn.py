"""Wall time for the in-graph DQN (utils.agents.fast_dqn) to solve CartPole-v1, vs the tutorial's.

"Solved" is Gym's rule: the greedy policy's average return over 100 evaluation episodes (each
capped at 500 steps) is at least 475. The clock starts before the agent's variables are
created, so tracing and XLA compilation count; importing TensorFlow does not. Each seed runs
in a fresh Python process, so no compiled function is reused between seeds.

    python benchmarks/fast_dqn.py                         # 5 seeds, plain graphs and XLA
    python benchmarks/fast_dqn.py --seeds 10 --modes graph
    python benchmarks/fast_dqn.py --tutorial-seeds 1      # also time dqn.TUTORIAL (minutes)

The tutorial's settings (``utils.agents.dqn.TUTORIAL`` through ``utils.agents.dqn.train``) are
slow, so by default they are not run (``--tutorial-seeds 0``): the speed-up is then computed
against the figure recorded in ``benchmarks/README.md`` (``--tutorial-reference``), labelled as
such.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "RESULT "
MODES = ("graph", "xla")


def one_run(mode: str, seed: int) -> dict:
    """Train once in this process; return the figures as a dict."""
    from utils.agents import fast_dqn

    settings = fast_dqn.FAST.replace(jit_compile=(mode == "xla"))
    agent, history = fast_dqn.train(settings, seed=seed, progress=False, verbose=False)
    gym_returns = fast_dqn.gym_evaluate(agent, 100, seed=10_000 + seed) if history.solved else []
    return {
        "mode": mode if history.jit_compile == (mode == "xla") else f"{mode}->graph",
        "seed": seed,
        "solved": history.solved,
        "solved_return": history.solved_return,
        "gym_return": float(sum(gym_returns) / len(gym_returns)) if history.solved else None,
        "seconds_to_solve": history.seconds_to_solve,
        "env_steps_to_solve": history.env_steps_to_solve,
        "first_call_seconds": history.first_call_seconds,
        "timings": history.timings,
        "seconds": history.seconds,
        "env_steps": history.env_steps,
    }


def subprocess_env() -> dict:
    """Environment for child processes: repo on the path, quiet TensorFlow."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("SDL_VIDEODRIVER", "dummy")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def run_child(command: list[str], timeout: float, label: dict) -> dict:
    """Run a child process and parse its RESULT line."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=subprocess_env(), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {**label, "error": f"timed out after {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    return {**label, "error": f"exit code {done.returncode}: " + " | ".join(tail)}


def fast_run(mode: str, seed: int, timeout: float) -> dict:
    """:func:`one_run` in a fresh process."""
    command = [sys.executable, __file__, "--one-run", mode, "--seed", str(seed)]
    return run_child(command, timeout, {"mode": mode, "seed": seed})


def tutorial_run(seed: int, timeout: float) -> dict:
    """``dqn.train_from_scratch(dqn.TUTORIAL)`` in a fresh process (via dqn_cartpole.py)."""
    script = str(REPO_ROOT / "benchmarks" / "dqn_cartpole.py")
    command = [sys.executable, script, "--one-run", "tutorial", "--seed", str(seed)]
    result = run_child(command, timeout, {"seed": seed})
    result["mode"] = "tutorial"
    return result


def print_run(r: dict) -> None:
    """One line per run."""
    head = f"{r['mode']:>12} seed {r['seed']:>2}:"
    if "error" in r:
        print(f"{head} ERROR {r['error']}", flush=True)
        return
    if not r["solved"]:
        print(f"{head} NOT solved after {r['env_steps']:,} env steps, {r['seconds']:.1f} s")
        return
    line = (
        f"{head} solved {r['solved_return']:6.1f} | {r['env_steps_to_solve']:>7,} env steps"
        f" | {r['seconds_to_solve']:6.2f} s to solve"
    )
    if r["mode"] != "tutorial":
        t = r["timings"]
        line += (
            f" | first call (build, trace, compile) {r['first_call_seconds']:5.2f} s"
            f" | collect+train {t['collect + train']:5.2f} s, evaluate {t['evaluate']:5.2f} s"
            f" | Gym check {r['gym_return']:6.1f}"
        )
    print(line, flush=True)


def summarize(name: str, runs: list[dict]) -> float:
    """Print the summary of one mode; return the median time to solve (inf if it is unsolved)."""
    solved = [r for r in runs if r.get("solved")]
    times = [r["seconds_to_solve"] if r.get("solved") else math.inf for r in runs]
    median = statistics.median(times) if times else math.nan
    print(f"\n{name}: solved {len(solved)}/{len(runs)}")
    print(f"  median time to solve:      {median:.2f} s")
    if solved:
        steps = statistics.median(r["env_steps_to_solve"] for r in solved)
        print(f"  median env steps to solve: {steps:,.0f}")
        spread = [r["seconds_to_solve"] for r in solved]
        print(f"  time to solve:             min {min(spread):.2f} s, max {max(spread):.2f} s")
    return median


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds per mode (0, 1, ...)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--tutorial-seeds", type=int, default=0, help="seeds of dqn.TUTORIAL to run (slow)"
    )
    parser.add_argument(
        "--tutorial-reference",
        type=float,
        default=None,
        help="median seconds to solve of dqn.TUTORIAL recorded in benchmarks/README.md, "
        "used for the speed-up when --tutorial-seeds is 0",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds per fast run")
    parser.add_argument("--json", type=Path, default=None, help="also save every run here")
    parser.add_argument("--one-run", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seeds < 1 and args.one_run is None:
        parser.error("--seeds must be >= 1")
    if args.tutorial_seeds < 0:
        parser.error("--tutorial-seeds must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0 if every fast run solved."""
    args = parse_args(argv)
    if args.one_run:
        print(RESULT_PREFIX + json.dumps(one_run(args.one_run, args.seed)), flush=True)
        return 0

    import numpy as np  # noqa: F401 - fail early if the environment is broken

    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(
        f"In-graph DQN on CartPole-v1, {now}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU cores, {platform.machine()}",
        flush=True,
    )
    all_runs, medians = [], {}
    for mode in args.modes:
        runs = [fast_run(mode, seed, args.timeout) for seed in range(args.seeds)]
        for r in runs:
            print_run(r)
        all_runs += runs
        medians[mode] = runs
    tutorial_runs = []
    start = time.perf_counter()
    for seed in range(args.tutorial_seeds):
        r = tutorial_run(seed, timeout=3600)
        print_run(r)
        tutorial_runs.append(r)
    if tutorial_runs:
        print(f"(tutorial runs took {time.perf_counter() - start:.0f} s in all)")
    all_runs += tutorial_runs

    summary = {mode: summarize(mode, runs) for mode, runs in medians.items()}
    if tutorial_runs:
        reference = summarize("tutorial (dqn.TUTORIAL, measured in this run)", tutorial_runs)
        label = "measured in this run"
    elif args.tutorial_reference:
        reference = args.tutorial_reference
        label = "recorded in benchmarks/README.md, NOT measured in this run"
    else:
        reference, label = math.nan, ""
    print()
    for mode, median in summary.items():
        if math.isfinite(reference) and math.isfinite(median):
            print(
                f"speed-up of {mode} (median tutorial {reference:.1f} s, {label} / "
                f"median {mode} {median:.2f} s): {reference / median:.1f}x"
            )
    every_solved = all(r.get("solved") for r in all_runs if r["mode"] != "tutorial")
    print(f"every fast run solved: {every_solved}")
    if args.json:
        args.json.write_text(json.dumps(all_runs, indent=1))
    return 0 if every_solved else 1


if __name__ == "__main__":
    sys.exit(main())
