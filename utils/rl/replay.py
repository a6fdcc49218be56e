"""Replay memory for TF-Agents: a Reverb table with its server, buffer, observer and dataset.

Taught in notebook 03. :func:`make_replay` is the entry point. :func:`build_reverb_replay`
is the Reverb lane, short enough to read as the explanation of how a Reverb replay is put
together: a *table* (what is stored, how it is sampled and evicted), a *server* that hosts
it, a TF-Agents *buffer* that reads it as a ``tf.data.Dataset``, and an *observer* that a
driver calls after every environment step to write into it.

Every replay object has the same small interface (:class:`Replay`): ``observer``,
``dataset(...)``, ``num_frames()``, ``close()``, and use as a context manager.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLE_NAME = "uniform_table"
BACKENDS = ("auto", "reverb", "uniform")

REVERB_MISSING = (
    "Reverb (the `dm-reverb` package) cannot be imported ({error}). Reverb ships wheels for "
    "Linux x86-64 and Python 3.9-3.11 only, so it is missing on Python 3.12+ runtimes such as "
    "today's Colab. Use the course's pinned stack on Python 3.11 (`pip install -r "
    "requirements.txt` installs dm-reverb==0.14.0), or install it into this environment with "
    "`pip install dm-reverb==0.14.0` if your Python version has a wheel."
)

# Live replays by table name. Building a replay again (e.g. re-running a notebook cell)
# first closes the previous one with that table name, so no server, port or temporary
# folder is left behind.
_LIVE: dict[str, Replay] = {}


def import_reverb():
    """Import and return the ``reverb`` module, or raise an ImportError that says what to do."""
    try:
        import reverb
    except ImportError as error:
        raise ImportError(REVERB_MISSING.format(error=error)) from error
    return reverb


def reverb_available() -> bool:
    """Whether Reverb can be imported here."""
    try:
        import_reverb()
    except ImportError:
        return False
    return True


@dataclass
class Replay:
    """What every replay offers: an observer for drivers, a dataset for training, close()."""

    observer: Any
    sequence_length: int
    table_name: str
    closed: bool = field(default=False, init=False)

    def num_frames(self) -> int:
        """Number of stored items (each ``sequence_length`` consecutive steps)."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line saying what stores the experience (printed by the notebooks)."""
        raise NotImplementedError

    def trackables(self) -> dict:
        """TensorFlow objects that a checkpoint of this replay holds (notebook 11)."""
        raise NotImplementedError

    def save_to(self, folder: Path) -> None:
        """Save what :meth:`trackables` does not cover into a checkpoint's folder."""
        raise NotImplementedError

    def restore_from(self, folder: Path) -> None:
        """Restore what :meth:`save_to` saved (before drivers and datasets are built)."""
        raise NotImplementedError

    def dataset(self, batch_size: int, num_steps: int | None = None, prefetch: int = 3):
        """``tf.data.Dataset`` of ``(experience, info)`` batches of ``num_steps``-step samples."""
        raise NotImplementedError

    def _shutdown(self) -> None:
        """Release what this replay holds (servers, files)."""

    def close(self) -> None:
        """Flush the observer and release the replay; calling it again does nothing."""
        if self.closed:
            return
        self.closed = True
        self._shutdown()
        if _LIVE.get(self.table_name) is self:
            del _LIVE[self.table_name]

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class ReverbReplay(Replay):
    """A running Reverb replay: table, server, TF-Agents buffer and observer."""

    table: Any = None
    server: Any = None
    buffer: Any = None
    checkpoint_dir: str | None = None
    collect_data_spec: Any = None  # what it was built for: needed to start it again
    min_size: int = 1

    @property
    def port(self) -> int:
        """Local port the Reverb server listens on."""
        return self.server.port

    def num_frames(self) -> int:
        """Number of items in the Reverb table."""
        return int(self.buffer.num_frames())

    def describe(self) -> str:
        """Where the experience goes: the Reverb table, its size and port."""
        return (
            f"replay: Reverb table {self.table_name!r} (uniform sampler, FIFO remover, "
            f"capacity {self.table.info.max_size:,}) on local port {self.port}"
        )

    def dataset(self, batch_size: int, num_steps: int | None = None, prefetch: int = 3):
        """Batches of ``num_steps``-step samples drawn uniformly from the table, prefetched."""
        return self.buffer.as_dataset(
            sample_batch_size=batch_size,
            num_steps=num_steps or self.sequence_length,
            num_parallel_calls=min(3, batch_size),
        ).prefetch(prefetch)

    def _shutdown(self) -> None:
        """Close the observer's writer, stop the server and delete its checkpoint folder."""
        self.observer.close()
        self.server.stop()
        if self.checkpoint_dir:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)

    def trackables(self) -> dict:
        """TensorFlow objects a checkpoint must hold: none (Reverb saves its own table)."""
        return {}

    def save_to(self, folder: Path) -> None:
        """Write Reverb's own checkpoint of the table (its items and their data) into ``folder``.

        The observer's pending steps are written into the table first.
        """
        self.observer.flush()
        written = Path(self.buffer.py_client.checkpoint())  # in the server's own folder
        shutil.copytree(written, Path(folder) / written.name)
        shutil.rmtree(written, ignore_errors=True)

    def restore_from(self, folder: Path) -> None:
        """Restart the server on the table saved in ``folder`` by :meth:`save_to`.

        A Reverb server loads a table only when it starts, so this stops the running one and
        starts another (on a new port), with a new buffer and observer: build drivers and
        datasets after restoring.
        """
        reverb = import_reverb()
        self.observer.close()
        self.server.stop()
        shutil.rmtree(self.checkpoint_dir, ignore_errors=True)
        self.checkpoint_dir = tempfile.mkdtemp(prefix="reverb-checkpoints-")
        shutil.copytree(folder, self.checkpoint_dir, dirs_exist_ok=True)
        capacity = self.table.info.max_size
        self.table, self.server, self.buffer, self.observer = _serve(
            reverb,
            self.collect_data_spec,
            capacity,
            self.table_name,
            self.sequence_length,
            self.min_size,
            self.checkpoint_dir,
        )


# BEGIN generated from notebooks/03_dqn_tf_agents.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def make_reverb_table(collect_data_spec, capacity, table_name, sequence_length=2, min_size=1):
    """The Reverb table: what an item is, how items are drawn and evicted, when sampling starts."""
    reverb = import_reverb()
    from tf_agents.specs import tensor_spec

    # An item is `sequence_length` consecutive steps: the agent's collect_data_spec with a
    # leading time dimension.
    signature = tensor_spec.add_outer_dim(tensor_spec.from_spec(collect_data_spec), sequence_length)
    return reverb.Table(
        table_name,
        max_size=capacity,
        sampler=reverb.selectors.Uniform(),  # every item is equally likely to be drawn
        remover=reverb.selectors.Fifo(),  # when full, the oldest item goes first
        rate_limiter=reverb.rate_limiters.MinSize(min_size),  # sample once min_size are in
        signature=signature,
    )


# END generated from notebooks/03_dqn_tf_agents.ipynb


def build_reverb_replay(
    collect_data_spec,
    capacity: int,
    *,
    table_name: str = TABLE_NAME,
    sequence_length: int = 2,
    min_size: int = 1,
) -> ReverbReplay:
    """Build a Reverb table and server, a ``ReverbReplayBuffer`` and its trajectory observer."""
    reverb = import_reverb()

    if table_name in _LIVE:  # a cell run again: stop the previous server first
        _LIVE[table_name].close()

    # The server hosts the table on a free local port. It can checkpoint tables to disk:
    # we give it a temporary folder of our own, deleted again by close().
    checkpoint_dir = tempfile.mkdtemp(prefix="reverb-checkpoints-")
    table, server, buffer, observer = _serve(
        reverb, collect_data_spec, capacity, table_name, sequence_length, min_size, checkpoint_dir
    )
    replay = ReverbReplay(
        observer,
        sequence_length,
        table_name,
        table=table,
        server=server,
        buffer=buffer,
        checkpoint_dir=checkpoint_dir,
        collect_data_spec=collect_data_spec,
        min_size=min_size,
    )
    _LIVE[table_name] = replay
    return replay


def _serve(reverb, collect_data_spec, capacity, table_name, sequence_length, min_size, folder):
    """Table, server, buffer and observer; the server loads the newest table saved in ``folder``."""
    from tf_agents.replay_buffers import reverb_replay_buffer, reverb_utils
    from tf_agents.specs import tensor_spec

    table = make_reverb_table(collect_data_spec, capacity, table_name, sequence_length, min_size)
    server = reverb.Server(
        [table], port=None, checkpointer=reverb.checkpointers.DefaultCheckpointer(folder)
    )
    # TF-Agents' view of the table: the buffer reads it as a tf.data.Dataset...
    buffer = reverb_replay_buffer.ReverbReplayBuffer(
        tensor_spec.from_spec(collect_data_spec),
        table_name=table_name,
        sequence_length=sequence_length,
        local_server=server,
        dataset_buffer_size=8,  # samples each reader fetches ahead: few, so they stay recent
    )
    # ...and the observer, called by a driver after every environment step, writes each
    # window of `sequence_length` consecutive steps into it (stride 1: windows overlap).
    observer = reverb_utils.ReverbAddTrajectoryObserver(
        buffer.py_client, table_name, sequence_length=sequence_length, stride_length=1
    )
    return table, server, buffer, observer


@dataclass
class UniformReplay(Replay):
    """TF-Agents' ``TFUniformReplayBuffer`` behind the same interface, where Reverb is missing."""

    buffer: Any = None
    reason: str = ""

    def num_frames(self) -> int:
        """Number of steps stored in the buffer."""
        return int(self.buffer.num_frames())

    def describe(self) -> str:
        """Where the experience goes, and why it is not Reverb."""
        why = f" ({self.reason})" if self.reason else ""
        return (
            f"replay: TF-Agents' TFUniformReplayBuffer (uniform sampling, oldest steps "
            f"overwritten, capacity {self.buffer.capacity.numpy():,}) instead of Reverb{why}"
        )

    def dataset(self, batch_size: int, num_steps: int | None = None, prefetch: int = 3):
        """Batches of ``num_steps``-step samples drawn uniformly from the buffer, prefetched."""
        return self.buffer.as_dataset(
            sample_batch_size=batch_size,
            num_steps=num_steps or self.sequence_length,
            num_parallel_calls=3,
        ).prefetch(prefetch)

    def _shutdown(self) -> None:
        """Nothing runs in the background; drop the stored steps."""
        self.buffer.clear()

    def trackables(self) -> dict:
        """TensorFlow objects a checkpoint must hold: the buffer (its steps are variables)."""
        return {"replay_buffer": self.buffer}

    def save_to(self, folder: Path) -> None:
        """Nothing beyond :meth:`trackables`."""

    def restore_from(self, folder: Path) -> None:
        """Nothing beyond :meth:`trackables`."""


def build_uniform_replay(
    collect_data_spec,
    capacity: int,
    *,
    table_name: str = TABLE_NAME,
    sequence_length: int = 2,
    reason: str = "",
) -> UniformReplay:
    """Build a ``TFUniformReplayBuffer`` and an observer that a ``PyDriver`` can call."""
    import tensorflow as tf
    from tf_agents.replay_buffers import tf_uniform_replay_buffer
    from tf_agents.specs import tensor_spec

    if table_name in _LIVE:  # a cell run again: release the previous buffer first
        _LIVE[table_name].close()

    # One stream of steps (batch_size=1): a driver on one environment adds one step at a time.
    buffer = tf_uniform_replay_buffer.TFUniformReplayBuffer(
        tensor_spec.from_spec(collect_data_spec), batch_size=1, max_length=capacity
    )

    @tf.function(autograph=False)
    def add_one(step) -> None:
        buffer.add_batch(tf.nest.map_structure(lambda value: tf.expand_dims(value, 0), step))

    def observer(trajectory) -> None:
        """Add one collected step (a Trajectory of numpy values) to the buffer."""
        add_one(trajectory)

    # Samples of 2 consecutive steps may straddle the end of an episode (its last step and
    # the next episode's first); DqnAgent masks those transitions out of the loss.
    replay = UniformReplay(observer, sequence_length, table_name, buffer=buffer, reason=reason)
    _LIVE[table_name] = replay
    return replay


def make_replay(
    collect_data_spec,
    capacity: int,
    *,
    backend: str = "auto",
    table_name: str = TABLE_NAME,
    sequence_length: int = 2,
    min_size: int = 1,
) -> Replay:
    """Build an agent's replay memory: Reverb when it can be imported, else TF-Agents' own.

    ``backend``: ``"auto"`` (Reverb if available, otherwise ``TFUniformReplayBuffer``, saying
    why in :meth:`Replay.describe`), ``"reverb"`` (an ImportError that says what to do when it
    is missing) or ``"uniform"``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    for name, value in [
        ("capacity", capacity),
        ("sequence_length", sequence_length),
        ("min_size", min_size),
    ]:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
    if backend == "uniform" or (backend == "auto" and not reverb_available()):
        reason = "chosen explicitly" if backend == "uniform" else _reverb_missing_reason()
        return build_uniform_replay(
            collect_data_spec,
            capacity,
            table_name=table_name,
            sequence_length=sequence_length,
            reason=reason,
        )
    return build_reverb_replay(
        collect_data_spec,
        capacity,
        table_name=table_name,
        sequence_length=sequence_length,
        min_size=min_size,
    )


def _reverb_missing_reason() -> str:
    """Why Reverb cannot be used here, in a few words."""
    import platform

    return (
        f"Reverb cannot be imported: it has no wheels for Python {platform.python_version()} "
        "on this platform"
    )


def live_replays() -> dict[str, Replay]:
    """The replays still open, by table name."""
    return dict(_LIVE)


def close_all() -> None:
    """Close every open replay."""
    for replay in list(_LIVE.values()):
        replay.close()


atexit.register(close_all)  # e.g. a kernel shut down without close(): no folders left behind
