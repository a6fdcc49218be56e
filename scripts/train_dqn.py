"""Train a DQN written from scratch (utils.dqn_scratch, notebook 05) from the shell.

Examples:
    python scripts/train_dqn.py                          # CartPole-v1, the course's settings
    python scripts/train_dqn.py --seed 3 --double --out build/train_dqn/double-3
    python scripts/train_dqn.py --env Acrobot-v1 --steps 50000 --no-video

Writes into the output folder: learning_curve.png, metrics.csv (one row per evaluation),
metrics.json (settings, outcome and the whole history), q_network.weights.h5, and a GIF and
an MP4 of one episode of the final greedy policy. Bad options end the program with a
one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils import dqn_scratch, paths, runtime  # noqa: E402  (no TensorFlow import yet)

FILES = (
    "learning_curve.png",
    "metrics.csv",
    "metrics.json",
    "q_network.weights.h5",
    "policy.gif",
    "policy.mp4",
)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


def probability(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def layer_sizes(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated layer sizes such as 256,256."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like 256,256, got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    """The command-line options, with the course's settings as defaults."""
    c = dqn_scratch.COURSE
    p = OneLineParser(
        prog="train_dqn.py",
        description="Train a DQN (plain TensorFlow/Keras, notebook 05) on a Gym environment "
        "and save its learning curve, metrics, weights and a video of the final policy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = p.add_argument
    add("--env", default=c.env_name, help="Gym environment id (discrete actions)")
    add("--steps", type=positive_int, default=c.max_env_steps, help="most environment steps")
    add("--episodes", type=positive_int, default=None, help="also stop after this many episodes")
    add("--seed", type=int, default=0, help="random seed (environment, replay, network)")
    add("--lr", type=positive_float, default=c.learning_rate, help="Adam learning rate")
    add("--gamma", type=float, default=c.gamma, help="discount factor, in [0, 1]")
    add("--epsilon-start", type=probability, default=c.epsilon_start, help="first epsilon")
    add("--epsilon-end", type=probability, default=c.epsilon_end, help="final epsilon")
    add(
        "--epsilon-decay-steps",
        type=non_negative_int,
        default=c.epsilon_decay_steps,
        help="train steps over which epsilon falls linearly (0: constant --epsilon-end)",
    )
    add("--buffer-size", type=positive_int, default=c.buffer_capacity, help="replay capacity")
    add("--batch-size", type=positive_int, default=c.batch_size, help="transitions per step")
    add(
        "--target-update",
        type=positive_int,
        default=c.target_update_period,
        help="train steps between target-network syncs",
    )
    add("--hidden", type=layer_sizes, default=c.hidden_layers, help="hidden layer sizes")
    add("--loss", choices=dqn_scratch.LOSSES, default=c.loss, help="TD loss")
    add("--double", action="store_true", help="use Double DQN targets")
    add(
        "--learning-starts",
        type=non_negative_int,
        default=c.initial_collect_steps,
        help="random steps before training",
    )
    add(
        "--collect-steps",
        type=positive_int,
        default=c.collect_steps_per_phase,
        help="environment steps per phase",
    )
    add(
        "--train-steps",
        type=positive_int,
        default=c.train_steps_per_phase,
        help="train steps per phase",
    )
    add("--out", type=Path, default=None, help="output folder [build/train_dqn/ENV-seedSEED]")
    add("--overwrite", action="store_true", help="write into a non-empty output folder")
    add("--no-progress", action="store_true", help="hide the progress bar")
    add("--no-video", action="store_true", help="skip the GIF and MP4")
    return p


def settings_from(args: argparse.Namespace) -> dqn_scratch.ScratchSettings:
    """ScratchSettings from parsed options (raises ValueError on bad values)."""
    return dqn_scratch.settings_for(
        args.env,
        max_env_steps=args.steps,
        max_episodes=args.episodes,
        learning_rate=args.lr,
        gamma=args.gamma,
        epsilon_start=args.epsilon_start,
        epsilon_end=args.epsilon_end,
        epsilon_decay_steps=args.epsilon_decay_steps,
        buffer_capacity=args.buffer_size,
        batch_size=args.batch_size,
        target_update_period=args.target_update,
        hidden_layers=tuple(args.hidden),
        loss=args.loss,
        double=args.double,
        initial_collect_steps=args.learning_starts,
        collect_steps_per_phase=args.collect_steps,
        train_steps_per_phase=args.train_steps,
    )


def output_folder(args: argparse.Namespace) -> Path:
    """The output folder, checked: refuse a non-empty one unless --overwrite."""
    out = args.out or paths.build_dir("train_dqn") / f"{args.env}-seed{args.seed}"
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder.")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise ValueError(f"output folder {out} is not empty: pass --overwrite or choose --out.")
    return out


def write_outputs(out: Path, agent, history, settings, args) -> list[Path]:
    """Learning curve, metrics CSV and JSON, weights and (unless --no-video) GIF and MP4."""
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    from utils import plots, video

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if history.eval_returns:
        steps, returns, complete = (
            history.eval_env_steps,
            history.eval_returns,
            history.eval_complete,
        )
        title = f"DQN from scratch on {settings.env_name}: greedy evaluations"
    else:  # no evaluation happened: plot the training episodes instead
        steps, returns, complete = history.episode_end_steps, history.episode_returns, None
        title = f"DQN from scratch on {settings.env_name}: training episodes"
    if returns:
        losses = (history.loss_env_steps, history.losses) if history.losses else None
        plots.plot_learning_curve(
            steps,
            returns,
            window=5,
            target=settings.target_return,
            complete=complete,
            losses=losses,
            title=title,
            path=out / "learning_curve.png",
        )
        written.append(out / "learning_curve.png")

    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env_steps", "seconds", "epsilon", "eval_return", "eval_complete"])
        rows = zip(
            history.eval_env_steps,
            history.eval_seconds,
            history.eval_epsilons,
            history.eval_returns,
            history.eval_complete,
            strict=True,
        )
        for step, seconds, eps, mean, complete in rows:
            writer.writerow([step, f"{seconds:.3f}", f"{eps:.4f}", f"{mean:.2f}", complete])
    written.append(out / "metrics.csv")

    summary = {
        "summary": history.summary(),
        "solved": history.solved,
        "solved_return": history.solved_return,
        "env_steps_to_solve": history.env_steps_to_solve,
        "seconds_to_solve": history.seconds_to_solve,
        "env_steps": history.env_steps,
        "train_steps": history.train_steps,
        "seconds": history.seconds,
        "seed": args.seed,
        "settings": dataclasses.asdict(settings),
        "history": history.to_dict(),
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    written.append(out / "metrics.json")

    agent.q_network.save_weights(str(out / "q_network.weights.h5"))
    written.append(out / "q_network.weights.h5")

    if not args.no_video:
        frames, episode_return = dqn_scratch.render_greedy_episode(
            agent, settings.env_name, seed=args.seed + 12345
        )
        written.append(video.write_gif(frames, out / "policy.gif", fps=50, scale=0.4, every=3))
        written.append(video.write_mp4(frames, out / "policy.mp4", fps=50))
        print(f"final greedy episode: return {episode_return:.0f}")
    return written


def main(argv: list[str] | None = None) -> int:
    """Parse options, train, write the outputs; 0 on success, 2 on bad options."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
        out = output_folder(args)
    except ValueError as err:
        parser.error(str(err).splitlines()[0])
    if not args.no_video:
        runtime.setup_display("auto")  # before pygame is imported by rendering
    runtime.quiet_tensorflow()

    agent, history = dqn_scratch.train(
        settings, seed=args.seed, progress=not args.no_progress, description=args.env
    )
    print(history.summary())
    for path in write_outputs(out, agent, history, settings, args):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
