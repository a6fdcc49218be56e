"""Train a DQN written from scratch (utils.agents.dqn_scratch, notebook 07) from the shell.

Examples:
    python scripts/train_dqn.py                          # CartPole-v1, the course's settings
    python scripts/train_dqn.py --seed 3 --double --out build/train_dqn/double-3
    python scripts/train_dqn.py --env-name Acrobot-v1 --max-env-steps 50000 --no-video
    python scripts/train_dqn.py --resume build/train_dqn/CartPole-v1-seed0  # after a crash

Every field of ``ScratchSettings`` is an option of the same name (``batch_size`` is
``--batch-size``), built from the dataclass by ``utils.infra.cli``: its comment is the help
text and the course's value the default. Writes into the output folder: learning_curve.png,
metrics.csv (one row per evaluation), metrics.json (settings, outcome and the whole
history), q_network.weights.h5, saved_policy/ (the greedy policy as a TensorFlow SavedModel,
which ``scripts/play_saved_policy.py`` plays without the course), and a GIF and an MP4 of one
episode of the final greedy policy. While it trains, it saves checkpoints into
``checkpoints/`` (notebook 11) every ``--checkpoint-every`` train steps and at the end;
``--resume FOLDER`` continues a stopped run from its newest checkpoint, with the settings and
seed it was started with (options given again change them). Bad options end the program with
a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# No TensorFlow import yet: these modules import it only when they train.
from utils import envs  # noqa: E402
from utils.agents import dqn_scratch  # noqa: E402
from utils.infra import cli, paths, runtime  # noqa: E402
from utils.rl import checkpoints  # noqa: E402

CHECKPOINTS = "checkpoints"  # the subfolder of the output folder that holds them

FILES = (
    "learning_curve.png",
    "metrics.csv",
    "metrics.json",
    "q_network.weights.h5",
    "saved_policy",
    "policy.gif",
    "policy.mp4",
)


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    """The options: one per settings field (the course's values as defaults), then the run's."""
    parser = cli.OneLineParser(
        prog="train_dqn.py",
        description="Train a DQN (plain TensorFlow/Keras, notebook 07) on a Gymnasium "
        "environment and save its learning curve, metrics, weights and a video of the final "
        "policy. For another environment, its solve threshold, best return and observation "
        "scale are taken from Gymnasium's registry unless given.",
    )
    fields = cli.add_settings_options(parser, dqn_scratch.COURSE)
    run = parser.add_argument_group("this run")
    run.add_argument(
        "--seed", type=int, default=None, help="random seed (default: 0, or the resumed run's)"
    )
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: build/train_dqn/ENV-seedSEED)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a non-empty folder (its old checkpoints are deleted)",
    )
    run.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="continue the run saved in FOLDER (an earlier run's output folder) from its newest "
        "checkpoint, with its settings and seed unless given again",
    )
    run.add_argument(
        "--checkpoint-every",
        type=int,
        default=1000,
        metavar="N",
        help="save a checkpoint every N train steps, and at the end (default: 1000; 0: never)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--no-video", action="store_true", help="skip the GIF and MP4")
    return parser, fields


def settings_from(args: argparse.Namespace, fields: list[str]) -> dqn_scratch.ScratchSettings:
    """ScratchSettings from parsed options (raises ValueError on bad values).

    With ``--resume``, the saved run's settings, changed by the options given; its seed too.
    """
    changes = cli.changes_from(args, fields)
    if args.resume is not None:
        meta = saved_run(args.resume)
        saved = checkpoints.settings_from_meta(dqn_scratch.ScratchSettings, meta)
        if args.seed is None:
            args.seed = int(meta.get("info", {}).get("seed", 0))
        return saved.replace(**changes)
    args.seed = 0 if args.seed is None else args.seed
    env_name = changes.pop("env_name", dqn_scratch.COURSE.env_name)
    envs.check_env_name(env_name, library="gymnasium", instead="use --env-name {id}")
    return dqn_scratch.settings_for(env_name, **changes)


def saved_run(folder: Path) -> dict:
    """The newest usable checkpoint's metadata in an earlier run's output folder."""
    if not folder.is_dir():
        raise ValueError(f"--resume {folder}: no such folder.")
    found = checkpoints.Checkpoints(folder / CHECKPOINTS, log=None).usable()
    if not found:
        raise ValueError(
            f"--resume {folder}: no usable checkpoint in {folder / CHECKPOINTS} (start a new "
            "run instead, or give the output folder of a run that saved checkpoints)."
        )
    return found[0][1]


def output_folder(args: argparse.Namespace) -> Path:
    """The output folder, checked: refuse a non-empty one unless --overwrite or --resume."""
    if args.resume is not None:
        if args.out is not None and Path(args.out).resolve() != args.resume.resolve():
            raise ValueError(
                "--out and --resume name different folders: a resumed run "
                "writes into the folder it resumes."
            )
        return args.resume
    env_name = getattr(args, "env_name", dqn_scratch.COURSE.env_name)
    out = args.out or paths.build_dir("train_dqn") / f"{env_name}-seed{args.seed}"
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
    from utils.infra import plots, video

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
            resumes=history.resumes,
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
    written.append(checkpoints.export_greedy(agent.q_network, out / "saved_policy"))

    if not args.no_video:
        env = envs.make_env(settings.env_name, render_mode="rgb_array")
        frames, episode_return = envs.record_episode(
            env, agent.greedy_action, seed=args.seed + 12345
        )
        env.close()
        written.append(video.write_gif(frames, out / "policy.gif", fps=50, scale=0.4, every=3))
        written.append(video.write_mp4(frames, out / "policy.mp4", fps=50))
        print(f"final greedy episode: return {episode_return:.0f}")
    return written


def main(argv: list[str] | None = None) -> int:
    """Parse options, train, write the outputs; 0 on success, 2 on bad options."""
    parser, fields = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.checkpoint_every < 0:
            raise ValueError("--checkpoint-every must be >= 0 (0: no checkpoints).")
        settings = settings_from(args, fields)
        out = output_folder(args)
    except (ValueError, ImportError) as err:  # ImportError: the environment needs a package
        parser.error(cli.option_error(str(err).splitlines()[0], fields))
    if not args.no_video:
        runtime.setup_display("auto")  # before pygame is imported by rendering
    runtime.quiet_tensorflow()
    import tensorflow  # noqa: F401 - started before training, so its start-up is not timed

    saver = None
    if args.checkpoint_every or args.resume is not None:
        if args.overwrite and args.resume is None:
            shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
        every = args.checkpoint_every or 10**12  # --resume with 0: only the final save
        saver = checkpoints.Checkpoints(out / CHECKPOINTS, every=every, info={"seed": args.seed})
    try:
        agent, history = dqn_scratch.train(
            settings,
            seed=args.seed,
            progress=not args.no_progress,
            description=settings.env_name,
            checkpoints=saver,
        )
    except checkpoints.CheckpointError as err:
        print(f"train_dqn.py: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    print(history.summary())
    for path in write_outputs(out, agent, history, settings, args):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
