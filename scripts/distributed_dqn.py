"""One role of a distributed DQN: a Reverb server, an actor, the learner or the evaluator.

Notebook 12 explains the roles (``utils/rl/distributed.py``); the agent is notebook 03's DQN
with the course's settings on CartPole-v1. The roles share nothing but the server's address,
so each can run on a machine of its own:

    python scripts/distributed_dqn.py --role server --port 8000 --folder build/dist/tables
    python scripts/distributed_dqn.py --role learner --server HOST:8000 --checkpoints build/ckpt
    python scripts/distributed_dqn.py --role actor --server HOST:8000 --index 0
    python scripts/distributed_dqn.py --role actor --server HOST:8000 --index 1
    python scripts/distributed_dqn.py --role evaluator --server HOST:8000

Each prints status lines (``status NAME STATE | key=value ...``). A role that cannot reach
the server retries for ``--wait`` seconds, then exits (1) with one line naming the address;
an address that does not parse or a port already in use ends it at once with one line (2).
``scripts/launch_distributed.py`` starts every role on this machine with one command.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.agents import dqn  # noqa: E402
from utils.infra import cli  # noqa: E402
from utils.rl import distributed  # noqa: E402

ROLES = ("server", "actor", "learner", "evaluator")


def recipe() -> distributed.Recipe:
    """Notebook 03's DQN with the course's settings."""
    return distributed.Recipe(
        settings=dqn.COURSE,
        make_env=dqn.make_env,
        build_agent=dqn.build_agent,
        make_train_step=dqn.make_train_step,
    )


def build_parser():
    settings = dqn.COURSE
    ratio = settings.sample_size / settings.collect_steps_per_iteration
    parser = cli.OneLineParser(
        prog="distributed_dqn.py",
        description="One role of a distributed DQN on CartPole-v1 around a Reverb server.",
    )
    parser.add_argument("--role", required=True, choices=ROLES, help="which program to be")
    parser.add_argument(
        "--server",
        default="localhost:8000",
        help="actor, learner, evaluator: the server's host:port",
    )
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to keep trying to reach the server"
    )
    group = parser.add_argument_group("server")
    group.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free one)")
    group.add_argument("--folder", default=None, help="where the tables are saved and loaded from")
    group.add_argument(
        "--samples-per-insert",
        type=float,
        default=ratio,
        help="transitions the learner may draw per transition written (the course's "
        f"single-process ratio: {ratio:g}; 0: the learner never waits for the actors)",
    )
    group.add_argument(
        "--checkpoint-every-s", type=float, default=60.0, help="seconds between saves (0: never)"
    )
    group = parser.add_argument_group("actor and evaluator")
    group.add_argument("--index", type=int, default=0, help="actor: its number (names it)")
    group.add_argument(
        "--seed", type=int, default=None, help="environment seed (actor: 1000 + index)"
    )
    group.add_argument(
        "--pull-every",
        type=int,
        default=settings.collect_steps_per_iteration,
        help="actor: environment steps between pulls of the latest weights",
    )
    group.add_argument(
        "--eval-every",
        type=int,
        default=settings.train_steps_per_iteration,
        help="evaluator: train steps between checks",
    )
    group = parser.add_argument_group("learner")
    group.add_argument("--checkpoints", default=None, help="folder of its checkpoints (resumed)")
    group.add_argument(
        "--checkpoint-every", type=int, default=1000, help="train steps between saves"
    )
    group.add_argument("--max-train-steps", type=int, default=None, help="stop after this many")
    group.add_argument("--logdir", default=None, help="learner, evaluator: TensorBoard summaries")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:  # bad addresses end the program before TensorFlow is imported
        if args.role == "server":
            distributed.check_port(args.port)
        else:
            distributed.parse_address(args.server)
    except distributed.AddressError as error:
        print(f"distributed_dqn.py: error: {error}", file=sys.stderr)
        return 2
    from utils.infra import runtime

    runtime.quiet_tensorflow()
    runtime.quiet_library_deprecations()
    try:  # before TensorFlow, which prints lines of its own as it starts in newer versions
        distributed.import_reverb()
    except distributed.ReverbMissing as error:
        print(f"distributed_dqn.py: error: {error}", file=sys.stderr)
        return 1
    client = {"address": args.server, "wait_s": args.wait}
    roles = {
        "server": partial(
            distributed.run_server,
            port=args.port,
            folder=args.folder,
            samples_per_insert=args.samples_per_insert,
            checkpoint_every_s=args.checkpoint_every_s,
        ),
        "actor": partial(
            distributed.run_actor,
            index=args.index,
            seed=args.seed,
            pull_every=args.pull_every,
            **client,
        ),
        "learner": partial(
            distributed.run_learner,
            checkpoints=args.checkpoints,
            checkpoint_every=args.checkpoint_every,
            logdir=args.logdir,
            max_train_steps=args.max_train_steps,
            **client,
        ),
        "evaluator": partial(
            distributed.run_evaluator,
            seed=args.seed or 0,
            eval_every=args.eval_every,
            logdir=args.logdir,
            **client,
        ),
    }
    return distributed.role_main(lambda: roles[args.role](recipe()))


if __name__ == "__main__":
    code = main()
    if code:
        # A failed role ends with its one line: skip the interpreter's teardown, during which
        # gRPC's pollers may log their own shutdown on stderr.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
