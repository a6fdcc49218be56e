"""How fast CartPole steps: Gym in a Python loop, batched Python envs, and CartPole in TF ops.

Random actions throughout, episodes restarted as they end. Printed side by side from one run:

- Gym 0.23 ``CartPole-v1`` in a plain Python loop (``action_space.sample()``);
- TF-Agents ``BatchedPyEnvironment`` of CartPoles (numpy actions, no policy);
- ``utils.envs.tf_cartpole``: the physics in TensorFlow ops, looped inside one ``tf.function``
  (a plain graph, and compiled with XLA).

    python benchmarks/env_throughput.py
    python benchmarks/env_throughput.py --batch-sizes 1 64 4096 16384 --seconds 1
    python benchmarks/env_throughput.py --py-batch-sizes 1 16 --no-xla

Each figure is the best of a few timed calls after compiling (compilation is not counted
here; ``benchmarks/fast_dqn.py`` counts it). On a shared machine the figures are lower bounds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DEFAULT_BATCHES = (1, 16, 256, 1024, 4096, 16384)
DEFAULT_PY_BATCHES = (1, 16, 256)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(DEFAULT_BATCHES))
    parser.add_argument(
        "--py-batch-sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_PY_BATCHES),
        help="batch sizes for BatchedPyEnvironment (slow to build when large)",
    )
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    parser.add_argument("--no-xla", action="store_true", help="skip jit_compile=True")
    args = parser.parse_args(argv)
    if min(args.batch_sizes + args.py_batch_sizes) < 1:
        parser.error("batch sizes must be >= 1")
    return args


def millions(value: float | None) -> str:
    """Steps per second in millions, or a dash."""
    return "-" if value is None else f"{value / 1e6:10.3f}"


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; return 0."""
    args = parse_args(argv)
    import tensorflow as tf

    from utils import envs
    from utils.envs import tf_cartpole
    from utils.infra import profiling

    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(
        f"CartPole random-action throughput, {now}, Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, {platform.machine()}",
        flush=True,
    )
    devices = [d.device_type for d in tf.config.list_logical_devices()]
    print(f"TensorFlow devices: {', '.join(devices)}", flush=True)
    xla = not args.no_xla
    if xla:
        xla, note = tf_cartpole.xla_available()
        if not xla:
            print(note, "- the XLA column is skipped", flush=True)

    gym_loop = profiling.gym_loop_steps_per_second(args.seconds * 2)
    print(f"Gym CartPole-v1, Python loop: {gym_loop / 1e6:.3f} M steps/s", flush=True)

    sizes = sorted(set(args.batch_sizes) | set(args.py_batch_sizes))
    rows = {}
    header = f"{'batch':>7} | {'BatchedPyEnv':>12} | {'TF graph':>10} | {'TF XLA':>10}"
    print("\nmillion environment steps per second\n" + header + "\n" + "-" * len(header))
    for size in sizes:
        py = None
        if size in args.py_batch_sizes:
            py = profiling.batched_py_steps_per_second(
                envs.batched_env("CartPole-v1", size), args.seconds
            )
        graph = xla_rate = None
        if size in args.batch_sizes:
            graph = tf_cartpole.steps_per_second(size, jit_compile=False, seconds=args.seconds)
            if xla:
                xla_rate = tf_cartpole.steps_per_second(
                    size, jit_compile=True, seconds=args.seconds
                )
        rows[size] = (py, graph, xla_rate)
        print(
            f"{size:>7} | {millions(py):>12} | {millions(graph):>10} | {millions(xla_rate):>10}",
            flush=True,
        )

    in_graph = [v for _, g, x in rows.values() for v in (g, x) if v is not None]
    python_batched = [p for p, _, _ in rows.values() if p is not None]
    print()
    if python_batched:
        print(f"best BatchedPyEnvironment: {max(python_batched) / 1e6:.3f} M steps/s")
    if in_graph:
        best = max(in_graph)
        print(f"best in-graph TF CartPole: {best / 1e6:.1f} M steps/s")
        print(f"in-graph best / Gym loop:  {best / gym_loop:,.0f}x")
        print(
            f"targets: >= 30 M steps/s: {'met' if best >= 30e6 else 'NOT met'}; "
            f">= 100x the Gym loop: {'met' if best >= 100 * gym_loop else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
