"""Distributed DQN (notebook 12): collection throughput, Reverb's own rates, and time to solve.

A. **Collection against the number of actors** (``--actor-counts``, default 1, 2, 4), each in
   a fresh ``utils.rl.distributed.Cluster`` (``scripts/distributed_dqn.py`` roles, one process
   each), in two settings: ``actors-only`` (a server and K actors; the server starts with the
   untrained weights, so the actors play without a learner) and ``with-learner`` (the same and
   a free-running learner). Both use ``--samples-per-insert 0``: the replay table has only a
   MinSize limiter, so neither side ever waits for the other. Once every role reports, and
   ``--settle`` seconds later, a window of ``--seconds``: the server's inserted (and sampled)
   counts read by a Reverb client here, each actor's ``env_steps`` and the learner's
   ``train_step`` from their status lines at the window's ends.
B. **Reverb alone, many light clients**: a ``reverb.Server`` in this process with one table
   (Uniform sampler, Fifo remover, 100,000 items, MinSize(1), the course's transition
   signature: two steps of a CartPole trajectory, 80 bytes). N writer processes (``--writers``)
   append steps and create one item per step as the actors' observer does, flushing every 256;
   then ``--samplers`` processes draw batches of 2,048 through TF-Agents' Reverb dataset as the
   learner does. Reported: the server's inserts and samples per second.
C. **Time to solve, distributed against single-process**: per pair, ``scripts/launch_distributed.py
   --actors 2`` and a process that runs ``utils.agents.dqn.train_from_scratch(dqn.COURSE)``,
   each timed from its start to its exit (process start-up included), the order alternating.
D. **Saturation estimates** from A and B.

Configurations alternate their order from repeat to repeat; figures are medians over repeats.

    python benchmarks/distributed.py                       # A, B, C and D: 20-30 minutes on 2 cores
    python benchmarks/distributed.py --sections A B --repeats 5
    python benchmarks/distributed.py --quick --record-dir /tmp/records   # a smoke run

The printed output is saved as ``benchmarks/records/distributed_<date>.txt`` (``--record-dir``;
``--no-record``: not saved), its first line the command as typed, as the other records have.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import math
import multiprocessing
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dqn_cartpole import REPO_ROOT, describe

sys.path.insert(0, str(REPO_ROOT))

from utils.infra import launcher

ROLE_PROGRAM = REPO_ROOT / "scripts" / "distributed_dqn.py"
LAUNCH = REPO_ROOT / "scripts" / "launch_distributed.py"
RESULT_PREFIX = "RESULT "
TABLE = "transitions"
CAPACITY = 100_000
FLUSH_EVERY = 256  # the actors flush after every 256 environment steps (one round)
SAMPLE_SIZE = 2048  # the learner draws 2,048 transitions ...
TRAIN_STEPS_PER_DRAW = 128  # ... for 128 train steps
COURSE_RATIO = 8  # the single-process trainer's samples per insert: 2,048 / 256
SOLVED = re.compile(
    r"Solved: the evaluator's check passed at train step (\d+) after ([\d,]+) transitions, "
    r"(\d+) s after the start"
)
SINGLE_PROCESS = """
import json, sys, time
sys.path.insert(0, {root!r})
from utils.infra import runtime
runtime.quiet_tensorflow()
runtime.quiet_library_deprecations()
from utils.agents import dqn
began = time.perf_counter()
_, h = dqn.train_from_scratch(dqn.COURSE, seed={seed}, progress=False)
print({prefix!r} + json.dumps({{
    "solved": bool(h.solved), "seconds_to_solve": h.seconds_to_solve,
    "env_steps_to_solve": h.env_steps_to_solve, "env_steps": h.env_steps,
    "train_steps": h.train_steps, "train_seconds": time.perf_counter() - began}}), flush=True)
"""


# --- output: printed, and kept for the record ----------------------------------------------


class Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy of everything written."""

    def __init__(self, stream) -> None:
        self.stream, self.kept = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.stream.flush()
        return self.kept.write(text)

    def flush(self) -> None:
        self.stream.flush()


def versions() -> str:
    from importlib import metadata

    found = []
    for label, names in (
        ("TensorFlow", ("tensorflow", "tensorflow-cpu")),
        ("TF-Agents", ("tf-agents",)),
        ("dm-reverb", ("dm-reverb",)),
    ):
        for name in names:
            with contextlib.suppress(metadata.PackageNotFoundError):
                found.append(f"{label} {metadata.version(name)}")
                break
    return ", ".join(found)


def machine() -> str:
    """CPU model, cores, memory and load: the machine line under the header."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB memory"
    load = os.getloadavg()[0]
    return (
        f"machine: {model}, {os.cpu_count()} CPU cores{memory}, load average {load:.2f} at the "
        f"start; {versions()}"
    )


# --- processes: none outlives this one ----------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment for the programs started here: no proxies (gRPC would use them)."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return launcher.child_environment({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path})


def run_program(command: list[str], timeout: float) -> tuple[int | None, str, float]:
    """Run ``command`` to its end; ``(exit code or None if timed out, stdout, wall seconds)``.

    The child is killed if this process dies, and stopped (SIGINT, then SIGKILL) if this one
    leaves early: a time-out, an exception or Ctrl-C.
    """
    began = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(),
        preexec_fn=launcher.die_with_parent,
    )
    try:
        out, _ = child.communicate(timeout=timeout)
        return child.returncode, out, time.perf_counter() - began
    except subprocess.TimeoutExpired:
        out = stop_program(child)
        return None, out, time.perf_counter() - began
    finally:
        if child.poll() is None:
            stop_program(child)


def stop_program(child: subprocess.Popen) -> str:
    """SIGINT (the launcher then stops its roles in order), SIGKILL after 15 s; its output."""
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGINT)
    try:
        out, _ = child.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        out, _ = child.communicate()
    return out or ""


# --- A. collection throughput against the number of actors --------------------------------


def wait_until(cluster, ready, timeout: float, what: str) -> float:
    """Seconds until ``ready()``; raises TimeoutError, or ClusterFailed if a role failed."""
    began = time.monotonic()
    while not ready():
        cluster.check()
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.25)
    return time.monotonic() - began


def rate_between(statuses: list, key: str, start: float, end: float) -> float:
    """How fast ``key`` grew between the last status lines at or before ``start`` and ``end``."""
    points = [(t, v[key]) for t, _, v in statuses if isinstance(v.get(key), int | float)]
    before = [p for p in points if p[0] <= start] or points[:1]
    until = [p for p in points if p[0] <= end]
    if not before or not until or until[-1][0] <= before[-1][0]:
        return math.nan
    (t0, v0), (t1, v1) = before[-1], until[-1]
    return (v1 - v0) / (t1 - t0)


def measure_cluster(setting: str, actors: int, args) -> dict:
    """One configuration of A in a fresh cluster: its rates over one window."""
    from utils.rl import distributed

    reverb = distributed.import_reverb()
    program = [sys.executable, str(ROLE_PROGRAM)]
    learner = setting == "with-learner"
    result = {"setting": setting, "actors": actors}
    with (
        tempfile.TemporaryDirectory(prefix="bench-distributed-") as folder,
        distributed.Cluster(
            program,
            folder,
            samples_per_insert=0,
            wait_s=args.startup_timeout,
            options=["--max-train-steps=1000000000"],  # the learner never runs out in a window
        ) as cluster,
    ):
        cluster.start_server()
        for index in range(actors):
            cluster.start_actor(index)
        if learner:
            cluster.start_learner()
        names = [f"actor-{index}" for index in range(actors)]

        def ready() -> bool:
            if not all(cluster.collecting(name) for name in names):
                return False
            if not learner:
                return True
            state, values = cluster.state("learner")
            return state == "training" and "train_steps_per_s" in values

        result["startup"] = wait_until(cluster, ready, args.startup_timeout, "the roles")
        time.sleep(args.settle)
        client = reverb.Client(cluster.address)
        launcher = cluster.launcher
        start = time.monotonic()
        first = distributed.table_counts(client)
        time.sleep(args.seconds)
        last = distributed.table_counts(client)
        end = time.monotonic()
        cluster.check()
        seconds = end - start
        result["inserts_per_s"] = (last["inserted"] - first["inserted"]) / seconds
        result["samples_per_s"] = (last["sampled"] - first["sampled"]) / seconds
        relative = (start - launcher.started, end - launcher.started)
        result["actor_rates"] = [
            rate_between(launcher.statuses(name), "env_steps", *relative) for name in names
        ]
        if learner:
            result["train_steps_per_s"] = rate_between(
                launcher.statuses("learner"), "train_step", *relative
            )
    return result


def print_collection(r: dict, repeat: int) -> None:
    head = f"  {r['setting']:>12} K={r['actors']} repeat {repeat}:"
    if "error" in r:
        print(f"{head} ERROR {r['error']}", flush=True)
        return
    rates = ", ".join(f"{x:,.0f}" for x in r["actor_rates"])
    text = (
        f"{head} {r['inserts_per_s']:7,.0f} inserts/s | actors {rates} env steps/s "
        f"(sum {sum(r['actor_rates']):,.0f})"
    )
    if "train_steps_per_s" in r:
        per_insert = r["samples_per_s"] / r["inserts_per_s"] if r["inserts_per_s"] else math.nan
        text += (
            f" | learner {r['train_steps_per_s']:,.0f} train steps/s, "
            f"{r['samples_per_s']:,.0f} samples/s ({per_insert:.1f} per insert)"
        )
    print(f"{text} | roles ready after {r['startup']:.0f} s", flush=True)


def section_a(args) -> dict[tuple[str, int], list[dict]]:
    settings = ("actors-only", "with-learner")
    print(
        f"\nA. Collection against the number of actors: fresh cluster per configuration, "
        f"samples_per_insert=0, {args.seconds:g} s windows after {args.settle:g} s of settling, "
        f"{args.repeats} repeat(s)"
    )
    runs: dict[tuple[str, int], list[dict]] = {(s, k): [] for s in settings for k in args.ks}
    for repeat in range(1, args.repeats + 1):
        order = [(s, k) for k in args.ks for s in settings]
        for setting, actors in order if repeat % 2 else order[::-1]:
            try:
                r = measure_cluster(setting, actors, args)
            except (TimeoutError, RuntimeError) as error:  # ClusterFailed is a RuntimeError
                r = {"setting": setting, "actors": actors, "error": str(error).splitlines()[0]}
            runs[setting, actors].append(r)
            print_collection(r, repeat)
    return runs


def median_of(runs: list[dict], key) -> float:
    values = [key(r) for r in runs if "error" not in r]
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def collection_medians(runs: dict) -> dict[tuple[str, int], dict]:
    medians = {}
    for (setting, actors), results in runs.items():
        medians[setting, actors] = {
            "repeats": sum("error" not in r for r in results),
            "inserts_per_s": median_of(results, lambda r: r["inserts_per_s"]),
            "actor_rate": median_of(results, lambda r: statistics.mean(r["actor_rates"])),
            "actor_sum": median_of(results, lambda r: sum(r["actor_rates"])),
            "train_steps_per_s": median_of(results, lambda r: r.get("train_steps_per_s", math.nan)),
            "samples_per_s": median_of(
                results, lambda r: r["samples_per_s"] if "train_steps_per_s" in r else math.nan
            ),
        }
    return medians


def number(value: float, width: int, digits: int = 0) -> str:
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width},.{digits}f}"


def print_collection_table(medians: dict, args) -> None:
    print(
        f"\nA. medians over {args.repeats} repeat(s) (env steps/s per actor: the mean over "
        "the actors of one run)"
    )
    print(
        f"{'setting':>12} {'actors':>6} {'inserts/s':>10} {'vs K=1':>7} {'steps/s/actor':>13} "
        f"{'train steps/s':>13} {'samples/s':>10} {'per insert':>10}"
    )
    for (setting, actors), m in medians.items():
        one = medians.get((setting, min(args.ks)), {}).get("inserts_per_s", math.nan)
        growth = m["inserts_per_s"] / one if one else math.nan
        per_insert = m["samples_per_s"] / m["inserts_per_s"] if m["inserts_per_s"] else math.nan
        print(
            f"{setting:>12} {actors:>6} {number(m['inserts_per_s'], 10)} "
            f"{number(growth, 6, 2)}x {number(m['actor_rate'], 13)} "
            f"{number(m['train_steps_per_s'], 13)} {number(m['samples_per_s'], 10)} "
            f"{number(per_insert, 10, 1)}"
        )


def print_blocks(blocks: dict[str, dict[str, float]], repeats: int) -> None:
    """Figures per configuration, in the record's ``name: ...`` + ``  label: number`` blocks."""
    for name, figures in blocks.items():
        print(f"\n{name}: median of {repeats} repeat(s)")
        for label, value in figures.items():
            if not math.isnan(value):
                digits = 0 if label in ("actors", "clients") else 1
                print(f"  {label + ':':34s}{value:,.{digits}f}")


# --- B. Reverb's own insert and sample rates --------------------------------------------


def transition_step(rng=None):
    """One step of a CartPole trajectory, flattened as TF-Agents writes it (numpy arrays)."""
    import numpy as np

    observation = (rng.standard_normal(4) if rng is not None else np.zeros(4)).astype(np.float32)
    return (
        np.int32(1),  # step_type
        observation,
        np.int64(rng.integers(2) if rng is not None else 0),  # action
        np.int32(1),  # next_step_type
        np.float32(1.0),  # reward
        np.float32(1.0),  # discount
    )


def transition_spec():
    """The course's collect data spec on CartPole-v1 (TF-Agents' Trajectory of one step)."""
    import tensorflow as tf
    from tf_agents.specs import tensor_spec
    from tf_agents.trajectories import trajectory

    return trajectory.Trajectory(
        step_type=tf.TensorSpec((), tf.int32),
        observation=tensor_spec.BoundedTensorSpec((4,), tf.float32, -4.8, 4.8),
        action=tensor_spec.BoundedTensorSpec((), tf.int64, 0, 1),
        policy_info=(),
        next_step_type=tf.TensorSpec((), tf.int32),
        reward=tf.TensorSpec((), tf.float32),
        discount=tensor_spec.BoundedTensorSpec((), tf.float32, 0.0, 1.0),
    )


def quiet_child(log: str) -> None:
    """In a client process: die with this one; stderr (Reverb's C++ warnings) into ``log``."""
    launcher.die_with_parent()
    os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)


def writer_main(address: str, log: str, index: int, ready, go, stop) -> None:
    """A writer process: while ``go`` is set, one step and one two-step item at a time.

    At thousands of items per second Reverb warns in ``log`` that many items are pending
    between flushes; the actors flush every 256 steps, and so does this.
    """
    quiet_child(log)
    try:
        import numpy as np
        import reverb

        rng = np.random.default_rng(index)
        steps = [transition_step(rng) for _ in range(1024)]
        client = reverb.Client(address)
        with client.trajectory_writer(num_keep_alive_refs=2) as writer:
            writer.append(steps[0])
            ready.set()
            n = 1
            while not stop.is_set():
                if not go.wait(0.2):
                    continue
                for _ in range(FLUSH_EVERY):
                    writer.append(steps[n % 1024])
                    writer.create_item(TABLE, 1.0, tuple(c[-2:] for c in writer.history))
                    n += 1
                writer.flush()
    except KeyboardInterrupt:
        pass


def sampler_main(address: str, log: str, ready, go, stop) -> None:
    """A sampler process: while ``go`` is set, draws of 2,048 transitions as the learner's."""
    quiet_child(log)
    try:
        from utils.infra import runtime

        runtime.quiet_tensorflow()
        from tf_agents.replay_buffers import reverb_replay_buffer

        buffer = reverb_replay_buffer.ReverbReplayBuffer(
            transition_spec(),
            table_name=TABLE,
            sequence_length=2,
            server_address=address,
            dataset_buffer_size=8,
        )
        samples = iter(buffer.as_dataset(SAMPLE_SIZE, num_steps=2).prefetch(1))
        next(samples)
        ready.set()
        while not stop.is_set():
            if go.wait(0.2):
                next(samples)
    except KeyboardInterrupt:
        pass


def reverb_table():
    import reverb
    import tensorflow as tf
    from tf_agents.specs import tensor_spec

    signature = tensor_spec.add_outer_dim(transition_spec(), 2)
    return reverb.Table(
        TABLE,
        max_size=CAPACITY,
        sampler=reverb.selectors.Uniform(),
        remover=reverb.selectors.Fifo(),
        rate_limiter=reverb.rate_limiters.MinSize(1),
        signature=tf.nest.map_structure(lambda s: tf.TensorSpec(s.shape, s.dtype), signature),
    )


def table_stats(client) -> tuple[int, int, int]:
    info = client.server_info(timeout=5)[TABLE]
    stats = info.rate_limiter_info
    return int(info.current_size), stats.insert_stats.completed, stats.sample_stats.completed


def measure_window(client, gos: list, count: int, settle: float, seconds: float) -> dict:
    """Let the first ``count`` clients run; the server's rates over one window."""
    for go in gos[:count]:
        go.set()
    try:
        time.sleep(settle)
        start, (size, inserted, sampled) = time.monotonic(), table_stats(client)
        time.sleep(seconds)
        _, inserted_end, sampled_end = table_stats(client)
        elapsed = time.monotonic() - start
    finally:
        for go in gos:
            go.clear()
    time.sleep(0.5)  # the clients finish what they were doing
    return {
        "inserts_per_s": (inserted_end - inserted) / elapsed,
        "samples_per_s": (sampled_end - sampled) / elapsed,
        "size": size,
    }


def start_clients(
    context, target, count: int, address: str, folder: str, args, indexed: bool
) -> tuple:
    """``count`` processes running ``target``, their stderr in ``folder`` (``indexed``: given
    their index too); waits until each is connected and ready. ``(processes, gos, stop)``."""
    stop = context.Event()
    readies = [context.Event() for _ in range(count)]
    gos = [context.Event() for _ in range(count)]
    processes = [
        context.Process(
            target=target,
            args=(
                address,
                str(Path(folder) / f"{target.__name__}-{i}.log"),
                *([i] if indexed else []),
                readies[i],
                gos[i],
                stop,
            ),
            daemon=True,
        )
        for i in range(count)
    ]
    try:
        for process in processes:
            process.start()
        deadline = time.monotonic() + args.startup_timeout
        for ready, process in zip(readies, processes, strict=True):
            while not ready.wait(0.5):
                if not process.is_alive() or time.monotonic() > deadline:
                    log = Path(folder) / f"{target.__name__}-{processes.index(process)}.log"
                    lines = log.read_text(errors="replace").strip().splitlines()[-3:]
                    raise RuntimeError(
                        f"a {target.__name__} process did not start: " + " | ".join(lines)
                    )
    except BaseException:
        stop_clients([p for p in processes if p.pid is not None], stop)
        raise
    return processes, gos, stop


def stop_clients(processes: list, stop) -> None:
    stop.set()
    for process in processes:
        process.join(10)
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()


def section_b(args) -> dict[str, list[dict]]:
    import reverb

    print(
        f"\nB. Reverb alone: a server in this process, one table of {CAPACITY:,} two-step "
        f"CartPole transitions; writer processes write one item per step and flush every "
        f"{FLUSH_EVERY}; sampler processes draw {SAMPLE_SIZE:,} at a time through TF-Agents' "
        f"Reverb dataset as the learner does; {args.b_seconds:g} s windows, {args.repeats} "
        "repeat(s)"
    )
    context = multiprocessing.get_context("spawn")
    runs: dict[str, list[dict]] = {f"writers-{n}": [] for n in args.writers}
    runs.update({f"samplers-{n}": [] for n in args.samplers})
    server = reverb.Server([reverb_table()], port=None)
    address = f"localhost:{server.port}"
    started: list = []  # (processes, their stop event): all stopped at the end
    logs = tempfile.TemporaryDirectory(prefix="bench-reverb-")
    try:
        client = reverb.Client(address)
        writers = start_clients(
            context, writer_main, max(args.writers), address, logs.name, args, True
        )
        started.append(writers)
        samplers = None
        for repeat in range(1, args.repeats + 1):
            for count in args.writers if repeat % 2 else args.writers[::-1]:
                r = measure_window(client, writers[1], count, 1.0, args.b_seconds)
                runs[f"writers-{count}"].append(r)
                print(
                    f"  {'writers':>8} N={count} repeat {repeat}: {r['inserts_per_s']:9,.0f} "
                    f"inserts/s ({r['inserts_per_s'] / count:,.0f} per writer)",
                    flush=True,
                )
            if args.samplers and samplers is None:  # now that the table holds transitions
                samplers = start_clients(
                    context, sampler_main, max(args.samplers), address, logs.name, args, False
                )
                started.append(samplers)
            for count in args.samplers if repeat % 2 else args.samplers[::-1]:
                r = measure_window(client, samplers[1], count, 2.0, args.b_seconds)
                runs[f"samplers-{count}"].append(r)
                print(
                    f"  {'samplers':>8} N={count} repeat {repeat}: {r['samples_per_s']:9,.0f} "
                    f"samples/s ({r['samples_per_s'] / SAMPLE_SIZE:,.1f} draws of "
                    f"{SAMPLE_SIZE:,}/s) from a table of {r['size']:,}",
                    flush=True,
                )
    finally:
        for processes, _, stop in started:
            stop_clients(processes, stop)
        server.stop()
        logs.cleanup()
    return runs


def print_reverb_table(runs: dict, args) -> dict[str, dict]:
    print(f"\nB. medians over {args.repeats} repeat(s)")
    print(f"{'clients':>12} {'inserts/s':>10} {'per writer':>10} {'samples/s':>10} {'draws/s':>8}")
    medians = {}
    for name, results in runs.items():
        count = int(name.split("-")[1])
        inserts = median_of(results, lambda r: r["inserts_per_s"])
        samples = median_of(results, lambda r: r["samples_per_s"])
        if name.startswith("writers"):
            medians[name] = {"clients": count, "inserts per second": inserts}
            print(f"{name:>12} {number(inserts, 10)} {number(inserts / count, 10)}")
        else:
            medians[name] = {"clients": count, "samples per second": samples}
            print(
                f"{name:>12} {'-':>10} {'-':>10} {number(samples, 10)} "
                f"{number(samples / SAMPLE_SIZE, 8, 1)}"
            )
    return medians


# --- C. time to solve ------------------------------------------------------------------


def last_evaluation(folder: Path) -> dict:
    """The evaluator's last status values in the launcher's folder (transitions, train step)."""
    from utils.infra.launcher import parse_status

    values: dict = {}
    log = folder / "logs" / "evaluator.log"
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            parsed = parse_status(line)
            if parsed and parsed[0] == "evaluator":
                values.update(parsed[2])
    return values


def distributed_run(pair: int, args) -> dict:
    name = f"distributed-{args.actors}-actors"
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as folder:
        command = [sys.executable, str(LAUNCH), "--actors", str(args.actors), "--folder", folder]
        command += ["--timeout", str(args.solve_timeout)]
        code, out, wall = run_program(command, args.solve_timeout + 120)
        evaluation = last_evaluation(Path(folder))
    found = SOLVED.search(out)
    if code not in (0, 1) and not found:
        tail = " | ".join(out.strip().splitlines()[-3:])
        return {"setting": name, "seed": pair, "error": f"exit code {code}: {tail}"}
    steps = int(found.group(2).replace(",", "")) if found else evaluation.get("transitions", 0)
    return {
        "setting": name,
        "seed": pair,
        "solved": bool(found),
        "wall": wall,
        "env_steps": steps,
        "seconds": float(found.group(3)) if found else math.nan,
        "train_steps": int(found.group(1)) if found else evaluation.get("train_step", 0),
    }


def single_run(seed: int, args) -> dict:
    code = SINGLE_PROCESS.format(root=str(REPO_ROOT), seed=seed, prefix=RESULT_PREFIX)
    exit_code, out, wall = run_program([sys.executable, "-c", code], args.solve_timeout)
    for line in out.splitlines():
        if line.startswith(RESULT_PREFIX):
            r = json.loads(line[len(RESULT_PREFIX) :])
            return {
                "setting": "single-process",
                "seed": seed,
                "solved": r["solved"],
                "wall": wall,
                "env_steps": r["env_steps_to_solve"] if r["solved"] else r["env_steps"],
                "seconds": r["seconds_to_solve"] if r["solved"] else math.nan,
                "train_steps": r["train_steps"],
            }
    tail = " | ".join(out.strip().splitlines()[-3:])
    why = "timed out" if exit_code is None else f"exit code {exit_code}"
    return {"setting": "single-process", "seed": seed, "error": f"{why}: {tail}"}


def print_solve_run(r: dict) -> None:
    """One line per run, in the format ``report.record_runs`` reads."""
    head = f"{r['setting']:>22} seed {r['seed']:2d}:"
    if "error" in r:
        print(f"{head} ERROR {r['error']}", flush=True)
        return
    own = f"{r['seconds']:6.1f} s to solve" if r["solved"] else "       not solved"
    print(
        f"{head} {'solved' if r['solved'] else 'NOT solved'} | {r['env_steps']:>7,} env steps"
        f" | {r['wall']:6.1f} s wall | {own} (own clock) | {r['train_steps']:>6,} train steps",
        flush=True,
    )


def section_c(args) -> dict[str, list[dict]]:
    print(
        f"\nC. Time to solve: scripts/launch_distributed.py --actors {args.actors} against "
        f"dqn.train_from_scratch(dqn.COURSE) in one process, {args.seeds} pair(s), the order "
        "alternating.\n   Both timed from the process's start to its exit ('wall'); 'own clock': "
        "the launcher's from its start, the trainer's from its first step.\n   The distributed "
        "runs' actor seeds are fixed (1000 + index, evaluator 0): their 'seed' is the pair's "
        "number, and\n   they differ with the scheduling of their processes and Reverb's "
        "sampling; 'env steps' there are the transitions written."
    )
    runs: dict[str, list[dict]] = {f"distributed-{args.actors}-actors": [], "single-process": []}
    for pair in range(args.seeds):
        seed = args.first_seed + pair
        order = ("distributed", "single") if pair % 2 == 0 else ("single", "distributed")
        for kind in order:
            r = distributed_run(seed, args) if kind == "distributed" else single_run(seed, args)
            runs[r["setting"]].append(r)
            print_solve_run(r)
    return runs


def median_to_solve(runs: list[dict], key: str) -> tuple[float, bool]:
    """Median of ``key``, unsolved runs counted as infinite; ``(value, exact)`` as elsewhere."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return math.nan, True
    middle = statistics.median(r[key] if r["solved"] else math.inf for r in ok)
    if math.isfinite(middle):
        return middle, True
    fallback = [r[key] for r in ok if not math.isnan(r[key])]
    return (statistics.median(fallback) if fallback else math.nan), False


def summarize_solve(runs: dict[str, list[dict]]) -> dict[str, float]:
    walls = {}
    for name, results in runs.items():
        solved = sum(r.get("solved", False) for r in results)
        print(f"\n{name}: solved {solved}/{len(results)}")
        for label, key, unit, digits in (
            ("median wall time", "wall", " s", 1),
            ("median time to solve", "seconds", " s", 1),
            ("median env steps to solve", "env_steps", "", 0),
            ("median train steps to solve", "train_steps", "", 0),
        ):
            value, exact = median_to_solve(results, key)
            if not math.isnan(value):
                print(f"  {label + ':':29s}{describe(value, exact, unit, digits)}")
            if key == "wall":
                walls[name] = value if exact else math.nan
    return walls


# --- D. saturation ---------------------------------------------------------------------


def saturation(collection: dict | None, reverb_medians: dict | None, args) -> None:
    print("\nD. Saturation estimates (from the medians above)")
    per_actor = math.nan
    if collection:
        one = collection.get(("actors-only", min(args.ks)), {})
        per_actor = one.get("actor_rate", math.nan)
        print(
            f"  one actor alone collects {per_actor:,.0f} env steps/s (actors-only, "
            f"K={min(args.ks)}); one transition is written per step"
        )
        totals = [(k, collection[("actors-only", k)]["inserts_per_s"]) for k in sorted(args.ks)]
        print(
            "  total inserts/s, actors only: "
            + ", ".join(f"K={k} {total:,.0f}" for k, total in totals)
        )
        stalls = [
            (before, k)
            for (before, previous), (k, total) in itertools.pairwise(totals)
            if not total > 1.15 * previous
        ]
        cores = os.cpu_count()
        if stalls:
            before, k = stalls[0]
            print(
                f"  the {cores} cores run out at K={before}: from K={before} to K={k} the total "
                "grows by less than 15 % (the actors, the server and the rest share the cores)"
            )
        elif len(totals) > 1:
            print(f"  the total still grows at K={totals[-1][0]} on these {cores} cores")
        learner = [
            (k, collection[("with-learner", k)]["train_steps_per_s"]) for k in sorted(args.ks)
        ]
        learner = [(k, rate) for k, rate in learner if not math.isnan(rate)]
        if learner:
            k, rate = max(learner, key=lambda x: x[1])
            absorbs = rate * SAMPLE_SIZE / TRAIN_STEPS_PER_DRAW / COURSE_RATIO
            print(
                f"  one learner trains {rate:,.0f} steps/s at best (with K={k} actors on the "
                f"same cores), i.e. draws "
                f"{rate * SAMPLE_SIZE / TRAIN_STEPS_PER_DRAW:,.0f} samples/s; at "
                f"samples_per_insert={COURSE_RATIO} it absorbs {absorbs:,.0f} inserts/s = "
                f"{absorbs / per_actor:.1f} actors at {per_actor:,.0f} env steps/s"
            )
    if reverb_medians:
        inserts = best_clients(reverb_medians, "writers", "inserts per second")
        if inserts:
            count, best = inserts
            actors = f" = {best / per_actor:,.0f} actors" if not math.isnan(per_actor) else ""
            print(
                f"  one Reverb server took {best:,.0f} inserts/s (with {count} writer"
                f"{'s' if count > 1 else ''})"
                f"{actors}; "
                "the writers shared the cores with it, so a server on a machine of its own "
                "takes more"
            )
        samples = best_clients(reverb_medians, "samplers", "samples per second")
        if samples:
            count, best = samples
            print(
                f"  it served {best:,.0f} samples/s (with {count} sampler"
                f"{'s' if count > 1 else ''}): enough for "
                f"{best * TRAIN_STEPS_PER_DRAW / SAMPLE_SIZE:,.0f} train steps/s, or "
                f"{best / COURSE_RATIO:,.0f} inserts/s at samples_per_insert={COURSE_RATIO}"
            )


def best_clients(medians: dict, kind: str, figure: str) -> tuple[float, float] | None:
    """(clients, figure) of the ``kind`` configuration ("writers", ...) with the best figure."""
    found = [
        (m["clients"], m[figure])
        for name, m in medians.items()
        if name.startswith(kind) and not math.isnan(m[figure])
    ]
    return max(found, key=lambda x: x[1]) if found else None


# --- the whole run ---------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sections", nargs="+", choices="ABC", default=list("ABC"))
    parser.add_argument("--repeats", type=int, default=3, help="repeats of A and B")
    parser.add_argument("--actor-counts", dest="ks", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=15.0, help="A's measuring window")
    parser.add_argument("--settle", type=float, default=2.0, help="A: seconds before the window")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--samplers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--b-seconds", type=float, default=10.0, help="B's measuring window")
    parser.add_argument("--seeds", type=int, default=None, help="C's pairs (default 3)")
    parser.add_argument("--first-seed", type=int, default=0, help="C: single-process seed")
    parser.add_argument("--actors", type=int, default=2, help="C: the distributed run's actors")
    parser.add_argument("--solve-timeout", type=float, default=600.0, help="C: per run")
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="roles' start-up")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny windows, no C")
    parser.add_argument("--record-dir", type=Path, default=REPO_ROOT / "benchmarks" / "records")
    parser.add_argument("--no-record", action="store_true", help="print only")
    parser.add_argument("--overwrite", action="store_true", help="replace today's record")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.ks, args.seconds, args.settle = 1, [1, 2], 3.0, 1.0
        args.writers, args.samplers, args.b_seconds = [1, 2], [1], 3.0
        args.seeds = 0 if args.seeds is None else args.seeds
    args.seeds = 3 if args.seeds is None else args.seeds
    if "C" not in args.sections:
        args.seeds = 0
    if min(args.ks + args.writers + [args.repeats, args.actors]) < 1:
        parser.error("--repeats, --actor-counts, --writers and --actors must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    typed = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    record = args.record_dir / f"distributed_{time.strftime('%Y-%m-%d')}.txt"
    if not args.no_record and record.exists() and not args.overwrite:
        print(f"{record} exists: give --overwrite to replace it, or --record-dir.")
        return 2
    for key in list(os.environ):  # gRPC would send this process's connections to a proxy
        if key.lower() in launcher.PROXY_VARIABLES:
            del os.environ[key]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C

    tee = Tee(sys.stdout)
    sys.stdout = tee
    try:
        print(f"$ python benchmarks/distributed.py {shlex.join(typed)}".rstrip())
        print(
            f"Distributed DQN on CartPole-v1, {time.strftime('%Y-%m-%d %H:%M')}, Python "
            f"{platform.python_version()}, {os.cpu_count()} CPU cores, {platform.machine()}"
        )
        print(machine())
        from utils.infra import runtime

        runtime.quiet_tensorflow()
        runtime.quiet_library_deprecations()
        collection = reverb_medians = None
        if "A" in args.sections:
            medians = collection_medians(section_a(args))
            print_collection_table(medians, args)
            collection = medians
        if "B" in args.sections:
            reverb_medians = print_reverb_table(section_b(args), args)
        if collection or reverb_medians:
            blocks = {f"{s}-{k}": {
                "actors": k,
                "inserts per second": m["inserts_per_s"],
                "env steps per second per actor": m["actor_rate"],
                "env steps per second, all actors": m["actor_sum"],
                "train steps per second": m["train_steps_per_s"],
                "samples per second": m["samples_per_s"],
            } for (s, k), m in (collection or {}).items()}  # fmt: skip
            blocks.update(reverb_medians or {})
            print_blocks(blocks, args.repeats)
        if args.seeds:
            walls = summarize_solve(section_c(args))
            distributed_wall, single_wall = walls.values()
            if distributed_wall and single_wall and not math.isnan(distributed_wall / single_wall):
                print(
                    f"\nmedian wall time, distributed / single-process: "
                    f"{distributed_wall / single_wall:.2f}x"
                )
        if "A" in args.sections or "B" in args.sections:
            saturation(collection, reverb_medians, args)
    except KeyboardInterrupt:
        print("\nStopped (Ctrl-C); every process it started is stopped; no record written.")
        return 130
    finally:
        sys.stdout = tee.stream
    if not args.no_record:
        args.record_dir.mkdir(parents=True, exist_ok=True)
        record.write_text(tee.kept.getvalue(), encoding="utf-8")
        print(f"record: {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
