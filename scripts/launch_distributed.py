"""Start a distributed DQN on this machine with one command: server, actors, learner, evaluator.

Examples:
    python scripts/launch_distributed.py                    # 2 actors, until CartPole is solved
    python scripts/launch_distributed.py --actors 4 --folder build/distributed/four
    python scripts/launch_distributed.py --folder build/distributed/four   # again: resumes

Each role is ``scripts/distributed_dqn.py --role ...`` in a process of its own (notebook 12).
One status line shows each actor's environment steps per second, the learner's train steps
per second, the replay table's size and the last evaluation. Every process started is stopped
when the evaluator reports "solved" (exit 0), when the time runs out or the learner's budget
ends unsolved (exit 1), when a role fails (exit 1, naming it and its log), on Ctrl-C (exit
130) and on SIGTERM (exit 143). Logs, the learner's checkpoints, the server's saved tables and
TensorBoard summaries go into ``--folder``; given a folder of an earlier run, the learner and
the server continue from what they saved there.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.infra import cli, paths  # noqa: E402
from utils.rl import distributed  # noqa: E402

PROGRAM = [sys.executable, str(ROOT / "scripts" / "distributed_dqn.py")]


def build_parser():
    parser = cli.OneLineParser(
        prog="launch_distributed.py",
        description="Run a distributed DQN (Reverb server, actors, learner, evaluator) on this "
        "machine until CartPole-v1 is solved.",
    )
    parser.add_argument("--actors", type=int, default=2, help="how many actors (1 or more)")
    parser.add_argument(
        "--folder", default=None, help="logs, checkpoints, summaries (default: new)"
    )
    parser.add_argument("--port", type=int, default=0, help="the server's port (0: a free one)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after these seconds")
    parser.add_argument(
        "--samples-per-insert", type=float, default=None, help="see distributed_dqn.py --help"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM (e.g. `kill`, a container stopping) stops the roles the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.actors < 1:
        print("launch_distributed.py: error: --actors must be 1 or more.", file=sys.stderr)
        return 2
    try:
        port = distributed.check_port(args.port) or distributed.free_port()
    except distributed.AddressError as error:
        print(f"launch_distributed.py: error: {error}", file=sys.stderr)
        return 2
    folder = (
        Path(args.folder)
        if args.folder
        else paths.build_dir("distributed", time.strftime("run-%Y%m%d-%H%M%S"))
    )
    cluster = distributed.Cluster(
        PROGRAM, folder, port=port, samples_per_insert=args.samples_per_insert
    )
    print(f"Server at {cluster.address}; logs, checkpoints and summaries in {folder}")
    try:
        with cluster:
            cluster.start(args.actors)
            solved = cluster.wait(
                lambda: cluster.solved() or "learner" not in cluster.launcher.running(),
                timeout=args.timeout,
            )
            cluster.check()
            outcome = cluster.state("evaluator")[1]
            if cluster.solved():
                print(
                    f"Solved: the evaluator's check passed at train step {outcome['train_step']} "
                    f"after {outcome['transitions']:,} transitions, "
                    f"{time.monotonic() - cluster.started:.0f} s after the start."
                )
                return 0
            why = "the learner's budget ended" if solved else f"{args.timeout:.0f} s passed"
            print(f"Not solved: {why} first.")
            return 1
    except distributed.ClusterFailed as error:
        print(f"launch_distributed.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped (Ctrl-C); every process it started is stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
