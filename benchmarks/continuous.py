"""DDPG, TD3 and SAC on Pendulum-v1: the course's settings against TF-Agents' example settings.

Every setting runs through the same training loop (``utils.agents.continuous.train``: an
``Actor`` collecting into Reverb, a ``Learner``, the same "solved" rule), each seed in a fresh
Python process. "Solved": the deterministic policy averages at least -200 over 100 evaluation
episodes. ``course-<agent>`` is ``continuous.COURSE`` for that agent (64x64 networks, phases of
200 environment steps then 400 train steps in one call, minibatches from one draw per phase,
a quick check after every phase). ``example-<agent>`` is ``continuous.EXAMPLES[agent]``: the
hyperparameters of TF-Agents' own examples for that agent (``tf_agents/examples/sac/haarnoja18``,
``tf_agents/agents/{ddpg,td3}/examples/v2/train_eval.py``: larger networks, their learning rates,
batch sizes, target updates and warm-up) and their loop (one environment step, then one train
step on a minibatch read from Reverb), checked every 1,000 steps, stopped at 50,000.

    python benchmarks/continuous.py                       # every agent, both settings, 5 seeds
    python benchmarks/continuous.py --agents sac --seeds 3
    python benchmarks/continuous.py --settings course --seeds 10

Prints one line per run (alternating settings seed by seed, so that a change in the machine's
load affects all settings alike), then per setting the medians, and per agent the speed-up
(median example time to solve / median course time to solve).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from dqn_cartpole import (
    REPO_ROOT,
    print_result,
    print_run,
    run_figures,
    run_in_subprocess,
    save_runs,
    speed_up,
    summarize,
)

sys.path.insert(0, str(REPO_ROOT))
from utils.envs import CONTINUOUS_AGENTS as AGENTS

KINDS = ("course", "example")


def settings_for(name: str):
    """``course-sac`` -> ``continuous.COURSE`` for SAC; ``example-td3`` -> the TD3 example's."""
    from utils.agents import continuous

    kind, agent = name.split("-")
    if kind == "course":
        return continuous.COURSE.replace(agent=agent)
    return continuous.EXAMPLES[agent]


def one_run(name: str, seed: int) -> dict:
    """Train once (in this process) and return the figures as a dict."""
    from utils.agents import continuous

    start = time.perf_counter()
    _, history = continuous.train(settings_for(name), seed=seed, progress=False)
    return run_figures(history, name, seed, start)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--agents", nargs="+", choices=AGENTS, default=list(AGENTS))
    parser.add_argument("--settings", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--seeds", type=int, default=5, help="runs per agent and settings")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first run")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds before a single run is abandoned"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write every run's figures to this JSON file"
    )
    names = [f"{kind}-{agent}" for agent in AGENTS for kind in KINDS]
    parser.add_argument("--one-run", choices=names, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print it."""
    args = parse_args(argv)
    if args.one_run:  # inside the fresh process that run_in_subprocess started
        return print_result(one_run(args.one_run, args.seed))

    print(
        f"DDPG, TD3 and SAC on Pendulum-v1, {time.strftime('%Y-%m-%d %H:%M')}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores, {platform.machine()}"
    )
    names = [f"{kind}-{agent}" for agent in args.agents for kind in args.settings]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in names:
            result = run_in_subprocess(name, seed, None, args.timeout, script=__file__)
            runs[name].append(result)
            print_run(result)

    medians = {name: summarize(name, results) for name, results in runs.items()}
    print()
    for agent in args.agents:
        course, example = medians.get(f"course-{agent}"), medians.get(f"example-{agent}")
        if course and example and course["seconds"] > 0:
            ratio = speed_up(example, course)
            print(f"speed-up {agent}: median example time / median course time: {ratio}")
    course = [(m["seconds"], name) for name, m in medians.items() if name.startswith("course")]
    if course:
        seconds, name = min(course)
        print(f"fastest course agent by median time to solve: {name}, {seconds:.1f} s")
    save_runs(args.json, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
