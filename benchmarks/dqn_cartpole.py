"""DQN on CartPole-v1: the TF-Agents tutorial's settings against the course's, side by side.

Every setting runs through the same training loop (``utils.agents.dqn.train``: Reverb replay,
PyDriver collection, the same "solved" rule), each seed in a fresh Python process so that
memory is measured cleanly and no state is shared. "Solved" means the greedy policy's
average return over 100 evaluation episodes is at least 475. The tutorial's settings include
its evaluation (every 1 000 iterations, 10 episodes one after another in a TFPyEnvironment,
``agent.policy`` called eagerly). Two more settings keep everything else of the tutorial and
change only how that check is played, to show how much of the difference is evaluation:
``tutorial-compiled-eval`` (the same episodes, with the policy compiled by ``tf.function`` on
a Python environment) and ``tutorial-batched-eval`` (the course's batched, early-stopped check).

    python benchmarks/dqn_cartpole.py                      # both settings, 3 seeds each
    python benchmarks/dqn_cartpole.py --settings course --seeds 10
    python benchmarks/dqn_cartpole.py --seeds 10 --tutorial-seeds 3
    python benchmarks/dqn_cartpole.py --tutorial-max-iterations 5000
    python benchmarks/dqn_cartpole.py --settings course tutorial tutorial-compiled-eval

Prints one line per run, then medians and the speed-up (median tutorial time to solve /
median course time to solve). Unsolved runs count as "not solved within the cap": a median
that falls on one is shown as a lower bound (">").
"""

from __future__ import annotations

import argparse
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
# The arms of dqn_arms; those named "course..." are the course's settings or a variant of them.
SETTINGS = (
    "tutorial",
    "tutorial-compiled-eval",
    "tutorial-batched-eval",
    "course",
    "course-hard-sync",
)
TUTORIAL_ARMS = tuple(name for name in SETTINGS if not name.startswith("course"))


def one_run(settings_name: str, seed: int, max_iterations: int | None) -> dict:
    """Train once (in this process) and return the figures as a dict."""
    from dqn_arms import ARMS, quick_check

    from utils.agents import dqn

    settings, style = ARMS[settings_name]
    if max_iterations is not None:
        settings = settings.replace(num_iterations=max_iterations)
    start = time.perf_counter()
    _, history = dqn.train_from_scratch(
        settings, seed=seed, progress=False, quick_check=quick_check(style)
    )
    return run_figures(history, settings_name, seed, start)


def run_figures(history, settings_name: str, seed: int, start: float) -> dict:
    """A finished run's figures as a dict (``start``: ``time.perf_counter()`` before building)."""
    import resource

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "settings": settings_name,
        "seed": seed,
        "solved": history.solved,
        "solved_return": history.solved_return,
        "seconds_to_solve": history.seconds_to_solve,
        "env_steps_to_solve": history.env_steps_to_solve,
        "iterations": history.iterations,
        "env_steps": history.env_steps,
        "train_steps": history.train_steps,
        "seconds": history.seconds,
        "wall_seconds": time.perf_counter() - start,  # with building the agent and replay
        "env_steps_per_second": history.env_steps_per_second,
        "timings": history.timings,
        "max_loss": max(history.losses) if history.losses else math.nan,
        "final_loss": history.losses[-1] if history.losses else math.nan,
        "peak_rss_mb": peak_kib / 1024,
    }


def run_in_subprocess(
    settings_name: str,
    seed: int,
    max_iterations: int | None,
    timeout: float,
    *,
    script: str = __file__,
) -> dict:
    """Run ``script --one-run`` (here: :func:`one_run`) in a fresh process; return its result."""
    command = [sys.executable, script, "--one-run", settings_name, "--seed", str(seed)]
    if max_iterations is not None:
        command += ["--max-iterations", str(max_iterations)]
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("SDL_VIDEODRIVER", "dummy")
    env.setdefault("SDL_AUDIODRIVER", "dummy")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"settings": settings_name, "seed": seed, "error": f"timed out after {timeout} s"}
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    return {
        "settings": settings_name,
        "seed": seed,
        "error": f"exit code {done.returncode}: " + " | ".join(tail),
    }


def print_result(result: dict) -> int:
    """In the fresh process: print the run's figures for :func:`run_in_subprocess`; return 0."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def median_to_solve(runs: list[dict], key: str) -> tuple[float, bool]:
    """Median of ``key`` over all runs, unsolved ones counted as infinite.

    Returns ``(value, exact)``; when the median falls on an unsolved run, ``value`` is the
    median of the runs' total figures instead and ``exact`` is False (a lower bound).
    """
    total_key = {"seconds_to_solve": "seconds", "env_steps_to_solve": "env_steps"}[key]
    values = [r[key] if r.get("solved") else math.inf for r in runs]
    middle = statistics.median(values)
    if math.isfinite(middle):
        return middle, True
    return statistics.median(r.get(total_key, math.nan) for r in runs), False


def describe(value: float, exact: bool, unit: str, digits: int = 1) -> str:
    """``12.3 s`` or ``> 12.3 s``."""
    text = f"{value:,.{digits}f}{unit}"
    return text if exact else f"> {text}"


def print_run(r: dict) -> None:
    """One line per run."""
    if "error" in r:
        print(f"{r['settings']:>21} seed {r['seed']:>2}: ERROR {r['error']}")
        return
    if r["solved"]:
        outcome = (
            f"solved {r['solved_return']:6.1f} | {r['env_steps_to_solve']:>7,} env steps"
            f" | {r['seconds_to_solve']:6.1f} s to solve"
        )
    else:
        outcome = (
            f"NOT solved      | {r['env_steps']:>7,} env steps | {r['seconds']:6.1f} s"
            " (cap reached)"
        )
    timings = r["timings"]
    print(
        f"{r['settings']:>21} seed {r['seed']:>2}: {outcome} | "
        f"{r['env_steps_per_second']:6.0f} env steps/s | "
        f"fill {timings.get('fill', 0.0):4.1f} s, collect {timings['collect']:5.1f} s, "
        f"train {timings['train']:5.1f} s, "
        f"evaluate {timings['evaluate']:5.1f} s | max loss {r['max_loss']:.3g} | "
        f"peak RSS {r['peak_rss_mb']:4.0f} MB",
        flush=True,
    )


def summarize(name: str, runs: list[dict]) -> dict:
    """Print and return the medians of one settings' runs."""
    ok = [r for r in runs if "error" not in r]
    solved = [r for r in ok if r["solved"]]
    print(f"\n{name}: solved {len(solved)}/{len(runs)}")
    if not ok:
        return {}
    seconds, seconds_exact = median_to_solve(ok, "seconds_to_solve")
    steps, steps_exact = median_to_solve(ok, "env_steps_to_solve")
    print(f"  median time to solve:       {describe(seconds, seconds_exact, ' s')}")
    print(f"  median env steps to solve:  {describe(steps, steps_exact, '', 0)}")
    if solved:
        times = [r["seconds_to_solve"] for r in solved]
        print(f"  time to solve (solved runs): min {min(times):.1f} s, max {max(times):.1f} s")
        most = max(r["env_steps_to_solve"] for r in solved)
        print(f"  env steps to solve (solved): max {most:,}")
    rates = [r["env_steps_per_second"] for r in ok]
    print(f"  median env steps per second: {statistics.median(rates):.0f}")
    peak = statistics.median(r["peak_rss_mb"] for r in ok)
    print(f"  median peak RSS:             {peak:.0f} MB")
    print(f"  largest loss seen:           {max(r['max_loss'] for r in ok):.3g}")
    return {"seconds": seconds, "exact": seconds_exact}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=SETTINGS,
        default=["tutorial", "course"],
        help="which settings to run",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="runs per settings, seeds first-seed, first-seed + 1, ...",
    )
    parser.add_argument(
        "--tutorial-seeds",
        type=int,
        default=None,
        help="runs of each tutorial setting, which are slow; None: as many as --seeds",
    )
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first run")
    parser.add_argument(
        "--tutorial-max-iterations",
        type=int,
        default=20_000,
        help="cap on the tutorial settings' iterations (the tutorial runs 20 000)",
    )
    parser.add_argument(
        "--course-max-iterations",
        type=int,
        default=None,
        help="cap on the course's iterations; None: the course setting's own",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds before a single run is abandoned"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write every run's figures to this JSON file"
    )
    parser.add_argument("--one-run", choices=SETTINGS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--max-iterations", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tutorial_seeds is None:
        args.tutorial_seeds = args.seeds
    if args.seeds < 1 or args.tutorial_seeds < 1:
        parser.error("--seeds and --tutorial-seeds must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print it."""
    args = parse_args(argv)
    if args.one_run:  # inside the fresh process
        sys.path.insert(0, str(REPO_ROOT))
        return print_result(one_run(args.one_run, args.seed, args.max_iterations))

    print(
        f"DQN on CartPole-v1, {time.strftime('%Y-%m-%d %H:%M')}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores, {platform.machine()}"
    )
    tutorial = set(TUTORIAL_ARMS)
    caps = {
        n: args.tutorial_max_iterations if n in tutorial else args.course_max_iterations
        for n in SETTINGS
    }
    counts = {n: args.tutorial_seeds if n in tutorial else args.seeds for n in SETTINGS}
    runs: dict[str, list[dict]] = {name: [] for name in args.settings}
    # Seed by seed, every setting in turn: a change in the machine's load then affects all
    # settings alike instead of whichever happened to run at the time.
    for seed in range(args.first_seed, args.first_seed + max(counts.values())):
        for name in args.settings:
            if seed >= args.first_seed + counts[name]:
                continue
            result = run_in_subprocess(name, seed, caps[name], args.timeout)
            runs[name].append(result)
            print_run(result)

    medians = {name: summarize(name, results) for name, results in runs.items()}
    course = medians.get("course")
    if course and course["seconds"] > 0:
        for name in TUTORIAL_ARMS:
            other = medians.get(name)
            if not other:
                continue
            ratio = speed_up(other, course)
            print(f"\nspeed-up (median {name} time / median course time): {ratio}")
    save_runs(args.json, runs)
    return 0


def speed_up(slow: dict, fast: dict) -> str:
    """``"4.2x"``: the ratio of two :func:`summarize` medians, marked when it is a bound."""
    ratio = slow["seconds"] / fast["seconds"]
    bound = "" if slow["exact"] and fast["exact"] else " (a bound: some runs unsolved)"
    return f"{ratio:.1f}x{bound}"


def save_runs(path: Path | None, runs: dict) -> None:
    """Write every run's figures to ``path`` as JSON (nothing when ``path`` is None)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    sys.exit(main())
