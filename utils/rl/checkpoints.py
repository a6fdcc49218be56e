"""Checkpoints that survive a killed process: save a training run, and continue it later.

Taught in notebook 11. A :class:`Checkpoints` object is handed to a trainer's ``train(...,
checkpoints=...)``. Before the loop it continues from the newest complete checkpoint in its
folder (when there is one); in the loop it writes one every ``every`` train steps, and one more
when training ends. A checkpoint is a folder ``ckpt-<train steps>`` holding

- ``tf/``: the TensorFlow state (networks, optimizer, counters, a ``TFUniformReplayBuffer``),
  written by ``tf.train.Checkpoint``;
- ``state.pkl``: the Python state (a NumPy replay buffer, random generators, environments,
  the observation being played), pickled;
- whatever else the trainer saves itself (e.g. ``reverb/``, Reverb's own checkpoint);
- ``meta.json``: the format, what the run is (its *identity*: environment, network shapes,
  trainer), its settings, counters and history. Written last.

**Atomic writes.** Everything is written into a hidden ``.partial-...`` folder first, flushed
to disk, and only then renamed to ``ckpt-...``; a rename is atomic, so a process killed during
a write leaves an unfinished ``.partial-...`` folder (ignored, and deleted by the next save)
and the previous checkpoints intact. The newest ``keep`` checkpoints are kept.

Pickles can run code when loaded: continue only from folders you (or your own runs) wrote.
"""

from __future__ import annotations

import copyreg
import dataclasses
import json
import os
import pickle
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from utils.infra.runtime import LazyModule

tf = LazyModule("tensorflow")  # imported at first use, after the notebook's setup cell

FORMAT = 1  # raised whenever the layout changes; older checkpoints are then skipped
PREFIX = "ckpt-"
PARTIAL = ".partial-"
_NAME = re.compile(rf"^{PREFIX}(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be continued from (the message says why, in one line)."""


# --- pickling Gym's random generators ---------------------------------------------------------


def _rebuild_generator(cls: type, state: dict) -> np.random.Generator:
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return cls(bit_generator)


def _reduce_generator(generator: np.random.Generator):
    return _rebuild_generator, (type(generator), generator.bit_generator.state)


def _register_gym_generator() -> None:
    """Gym 0.23's ``RandomNumberGenerator`` (a NumPy ``Generator``) cannot be pickled as is."""
    try:
        from gym.utils.seeding import RandomNumberGenerator
    except ImportError:  # another Gym, whose generators pickle like NumPy's
        return
    copyreg.pickle(RandomNumberGenerator, _reduce_generator)


# --- what a trainer hands over -----------------------------------------------------------------


@dataclass
class Parts:
    """What one trainer's checkpoint holds, and where it goes back on resume.

    ``tf``: TensorFlow objects by name (Keras models, optimizers, ``tf.Variable``\\ s, a
    TF-Agents agent), saved with ``tf.train.Checkpoint`` and restored into the same objects.
    ``attributes``: ``name -> (object, attribute names)``; the attributes are pickled and set
    back on the same object. ``lists``: ``name -> list``, pickled and refilled in place (e.g.
    the evaluation environments). ``save_extra(folder)`` / ``load_extra(folder)``: whatever the
    trainer writes itself (Reverb's checkpoint), given the checkpoint's folder.
    """

    tf: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, tuple[Any, tuple[str, ...]]] = field(default_factory=dict)
    lists: dict[str, list] = field(default_factory=dict)
    save_extra: Callable[[Path], None] | None = None
    load_extra: Callable[[Path], None] | None = None

    def python_state(self) -> dict:
        """The pickled part, as one dictionary."""
        state = {f"list:{name}": list(items) for name, items in self.lists.items()}
        for name, (obj, names) in self.attributes.items():
            state[f"attr:{name}"] = {attribute: getattr(obj, attribute) for attribute in names}
        return state

    def set_python_state(self, state: dict) -> None:
        """Put the pickled part back into the live objects."""
        for name, items in self.lists.items():
            items[:] = state[f"list:{name}"]
        for name, (obj, names) in self.attributes.items():
            for attribute in names:
                setattr(obj, attribute, state[f"attr:{name}"][attribute])


@dataclass
class Progress:
    """Where a run stands when it is saved: the loop's counters and the seconds it has run."""

    iteration: int = 0
    env_steps: int = 0
    train_steps: int = 0
    seconds: float = 0.0
    finished: bool = False  # the run ended (solved, or out of budget): resuming trains no more


def restore_history(history, data: dict) -> None:
    """Put a saved ``History.to_dict()`` back into ``history`` (in place: others hold it)."""
    for item in dataclasses.fields(history):
        if item.name not in data:
            continue
        value = data[item.name]
        if item.name == "full_evals":
            value = [tuple(entry) for entry in value]
        setattr(history, item.name, value)


def settings_from_meta(cls: type, meta: dict):
    """The settings a checkpoint was saved with, as a ``cls`` (lists become tuples again)."""
    names = {item.name for item in dataclasses.fields(cls)}
    values = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in meta.get("settings", {}).items()
        if key in names
    }
    return cls(**values)


def _plain(value: Any) -> Any:
    """Settings values as JSON can hold them (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


# BEGIN generated from notebooks/11_checkpoints.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def sync_to_disk(path):
    """Ask the operating system to put a file, or a folder and all it holds, on the disk now."""
    path = Path(path)
    for inner in sorted(path.rglob("*"), reverse=True) if path.is_dir() else []:
        sync_to_disk(inner)
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(target, write):
    """Make the folder ``target`` appear whole or not at all; return its path.

    ``write(folder)`` fills a hidden temporary folder next to ``target``; once it has
    returned and everything is on disk, a rename gives the folder its name. An older
    ``target`` is first renamed aside (a crash in between leaves no ``target``, and the
    older one hidden). A process killed before the rename leaves only the temporary folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f"{PARTIAL}{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    write(partial)
    sync_to_disk(partial)  # the files' contents first ...
    if target.exists():  # ... then the rename (an old target is moved aside, then deleted)
        old = target.parent / f"{PARTIAL}old-{uuid.uuid4().hex[:8]}"
        target.rename(old)
        partial.rename(target)
        shutil.rmtree(old)
    else:
        partial.rename(target)
    sync_to_disk(target.parent)  # ... and the new name
    return target


def export_greedy(q_network, folder):
    """Save a Keras Q-network's greedy policy as a SavedModel: observations in, actions out.

    The SavedModel has one signature, ``action``: a batch of observations (float32) gives
    ``action`` (the index of the largest Q-value) and ``q_values``. Loading it needs
    TensorFlow only.
    """
    size = int(q_network.input_shape[-1])
    module = tf.Module()
    module.q_network = q_network  # tracked: its weights are saved with the module

    @tf.function(input_signature=[tf.TensorSpec([None, size], tf.float32, name="observation")])
    def action(observation):
        q_values = module.q_network(observation)
        return {"action": tf.argmax(q_values, axis=-1, output_type=tf.int32), "q_values": q_values}

    module.action = action

    def save(partial):
        tf.saved_model.save(module, str(partial), signatures={"action": action})

    return write_atomically(folder, save)


# END generated from notebooks/11_checkpoints.ipynb


# --- the checkpoint folder ---------------------------------------------------------------------


class Checkpoints:
    """A folder of checkpoints for one training run. Taught in notebook 11.

    ``every``: save after the first iteration that reaches each multiple of this many train
    steps (and always at the end). ``keep``: how many of the newest checkpoints to keep.
    ``resume``: continue from the newest checkpoint when the folder has one (False: refuse a
    folder that already holds checkpoints, so nothing is overwritten by mistake).
    ``log``: where the one-line messages go (``print``; None: nowhere). ``info``: anything
    else worth keeping with each checkpoint (e.g. the seed), saved as ``meta["info"]``.
    ``parts_fn``: replaces the trainer's own choice of what a checkpoint holds (called with
    the same arguments as the trainer's parts function, e.g. ``dqn_scratch.scratch_parts``).
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        every: int = 1000,
        keep: int = 2,
        resume: bool = True,
        log: Callable[[str], None] | None = print,
        info: dict | None = None,
        parts_fn: Callable[..., Parts] | None = None,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a whole number of train steps >= 1, got {every!r}.")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a whole number >= 1, got {keep!r}.")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise CheckpointError(f"checkpoint folder {self.folder} is a file, not a folder.")
        self.every, self.keep, self.resume_allowed = every, keep, resume
        self.log = log or (lambda text: None)
        self.parts: Parts | None = None
        self.identity: dict = {}
        self.settings: dict = {}
        self.history = None
        self.last_saved_steps: int | None = None
        self.saves: list[float] = []  # seconds each save took
        self.info = _plain(info or {})
        self.parts_fn = parts_fn
        _register_gym_generator()

    def __repr__(self) -> str:
        return f"Checkpoints({str(self.folder)!r}, every={self.every}, keep={self.keep})"

    # -- what is in the folder

    def entries(self) -> list[Path]:
        """The checkpoints in the folder (complete or not), oldest first."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if _NAME.match(p.name)]
        return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))

    def partial_writes(self) -> list[Path]:
        """Unfinished writes (a process stopped while saving)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.startswith(PARTIAL))

    @staticmethod
    def read_meta(path: Path) -> dict:
        """A checkpoint's ``meta.json``, or a CheckpointError saying why it is unusable."""
        try:
            meta = json.loads((path / "meta.json").read_text())
        except FileNotFoundError:
            raise CheckpointError(
                f"{path.name}: it has no meta.json (not written by this course)"
            ) from None
        except (OSError, ValueError) as error:
            raise CheckpointError(f"{path.name}: meta.json cannot be read ({error})") from error
        if meta.get("format") != FORMAT:
            raise CheckpointError(
                f"{path.name}: written by another version of the course (format "
                f"{meta.get('format')!r}, this one reads {FORMAT})"
            )
        return meta

    def usable(self) -> list[tuple[Path, dict]]:
        """Complete checkpoints of this course version, newest first; the others are logged."""
        found = []
        for path in reversed(self.entries()):
            try:
                found.append((path, self.read_meta(path)))
            except CheckpointError as why:
                self.log(f"skipping {why}.")
        return found

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        found = self.usable()
        return found[0][0] if found else None

    # -- attach, resume, save

    def attach(self, parts: Parts, *, identity: dict, settings: Any, history: Any) -> None:
        """Tell the folder what this run's checkpoints hold (called by the trainer)."""
        self.parts, self.history = parts, history
        self.identity = _plain(identity)
        self.settings = _plain(dataclasses.asdict(settings)) if settings is not None else {}

    def _check_identity(self, path: Path, meta: dict) -> None:
        saved = meta.get("identity", {})
        differences = [
            f"{key} {saved.get(key)!r} there, {value!r} here"
            for key, value in self.identity.items()
            if saved.get(key) != value
        ]
        if differences:
            raise CheckpointError(
                f"{self.folder} holds a different run ({path.name}: "
                + "; ".join(differences)
                + "): nothing was changed there. Use another folder, or the same settings."
            )

    def resume(self) -> Progress | None:
        """Restore the newest usable checkpoint into the attached run; None if there is none.

        Every checkpoint is checked before anything is restored, so a run is either restored
        whole or not at all. Raises CheckpointError when the folder holds checkpoints but none
        can be used, or when they belong to a different run.
        """
        if self.parts is None:
            raise RuntimeError("attach() the run's parts before resume().")
        entries, found = self.entries(), self.usable()
        if not entries:
            if self.partial_writes():
                raise CheckpointError(
                    f"{self.folder} holds only an unfinished write ({self.partial_writes()[0].name}"
                    "): no checkpoint to continue from. Delete it, or use another folder."
                )
            return None
        if not found:
            raise CheckpointError(
                f"no usable checkpoint in {self.folder} ({len(entries)} found, none complete "
                "and of this course version): delete them, or use another folder."
            )
        if not self.resume_allowed:
            raise CheckpointError(
                f"{self.folder} already holds checkpoints ({found[0][0].name}): pass resume=True "
                "to continue that run, or choose an empty folder."
            )
        self._check_identity(*found[0])
        for path, meta in found:
            try:
                state = self._load(path)
            except CheckpointError as why:
                self.log(f"skipping {why}.")
                continue
            self.parts.set_python_state(state)
            if self.parts.load_extra is not None:
                self.parts.load_extra(path)
            progress = Progress(**meta["progress"])
            if self.history is not None:
                restore_history(self.history, meta["history"])
                self.history.resumes.append(progress.env_steps)
            self.last_saved_steps = progress.train_steps
            changed = self._changed_settings(meta)
            self.log(
                f"resumed from {path}: {progress.env_steps:,} environment steps, "
                f"{progress.train_steps:,} train steps"
                + (" (that run had ended: solved, or out of budget)" if progress.finished else "")
                + (f"; settings changed since: {changed}" if changed else "")
            )
            return progress
        raise CheckpointError(f"no checkpoint in {self.folder} could be read: see the lines above.")

    def _changed_settings(self, meta: dict) -> str:
        saved = meta.get("settings", {})
        return ", ".join(
            f"{key} {saved[key]!r} -> {value!r}"
            for key, value in self.settings.items()
            if key in saved and saved[key] != value
        )

    def _load(self, path: Path) -> dict:
        """Read a checkpoint's Python state and restore its TensorFlow state, all or nothing."""
        try:
            with open(path / "state.pkl", "rb") as f:
                state = pickle.load(f)
            prefix = str(path / "tf" / "ckpt")
            reader = tf.train.load_checkpoint(prefix)
            stored = reader.get_variable_to_shape_map()
        except Exception as error:  # any unreadable file: skip this checkpoint
            why = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            raise CheckpointError(f"{path.name}: it cannot be read ({why})") from error
        if not stored:
            raise CheckpointError(f"{path.name}: it holds no TensorFlow variables")
        checkpoint = tf.train.Checkpoint(**self.parts.tf)
        status = checkpoint.read(prefix)
        status.assert_existing_objects_matched().expect_partial()
        return state

    def due(self, train_steps: int) -> bool:
        """Whether a multiple of ``every`` train steps was reached since the last save."""
        last = self.last_saved_steps or 0
        return train_steps // self.every > last // self.every

    def save(self, progress: Progress) -> Path:
        """Write a checkpoint of the attached run now (atomically); return its folder."""
        if self.parts is None:
            raise RuntimeError("attach() the run's parts before save().")
        began = time.perf_counter()
        for stale in self.partial_writes():  # a write a killed process did not finish
            shutil.rmtree(stale, ignore_errors=True)
        meta = {
            "format": FORMAT,
            "written": time.strftime("%Y-%m-%d %H:%M:%S"),
            "identity": self.identity,
            "settings": self.settings,
            "info": self.info,
            "progress": dataclasses.asdict(progress),
            "history": self.history.to_dict() if self.history is not None else {},
        }

        def write(folder: Path) -> None:
            tf.train.Checkpoint(**self.parts.tf).write(str(folder / "tf" / "ckpt"))
            with open(folder / "state.pkl", "wb") as f:
                pickle.dump(self.parts.python_state(), f, protocol=pickle.HIGHEST_PROTOCOL)
            if self.parts.save_extra is not None:
                self.parts.save_extra(folder)
            (folder / "meta.json").write_text(json.dumps(meta, indent=1, default=str))

        final = write_atomically(self.folder / f"{PREFIX}{progress.train_steps:09d}", write)
        for old in self.entries()[: -self.keep]:  # renamed first: gone at once, as a whole
            hidden = old.with_name(f"{PARTIAL}old-{uuid.uuid4().hex[:8]}")
            old.rename(hidden)
            shutil.rmtree(hidden, ignore_errors=True)
        self.last_saved_steps = progress.train_steps
        self.saves.append(time.perf_counter() - began)
        return final

    def maybe_save(self, progress: Progress) -> Path | None:
        """Save when ``progress.train_steps`` reached the next multiple of ``every``."""
        return self.save(progress) if self.due(progress.train_steps) else None


def size_on_disk(folder: str | Path) -> int:
    """Bytes of all files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


class RunSaver:
    """What a trainer's loop calls to resume and to save; with ``checkpoints=None``, nothing.

    ``resume()`` restores the newest checkpoint (True) or leaves a fresh run (False), and
    moves the run's clock back by the seconds the restored run had trained (``start``, and
    ``check.start`` when a ``SolveCheck`` is given), so the history's times continue.
    ``after_iteration`` saves when due, ``finish`` at the end. ``history``: the check's,
    unless given.
    """

    def __init__(
        self,
        checkpoints: Checkpoints | None,
        parts: Parts,
        *,
        identity: dict,
        settings: Any,
        check: Any = None,
        history: Any = None,
        start: float | None = None,
    ) -> None:
        history = check.history if history is None else history
        self.checkpoints, self.history, self.check = checkpoints, history, check
        self._start = time.perf_counter() if start is None else start
        self.iteration, self.env_steps, self.finished = 0, 0, False
        if checkpoints is not None:
            checkpoints.attach(parts, identity=identity, settings=settings, history=history)

    @property
    def start(self) -> float:
        """``time.perf_counter()`` at the (possibly moved) start of training."""
        return self.check.start if self.check is not None else self._start

    def resume(self) -> bool:
        """Continue from the newest checkpoint, if the folder has one; True if it did."""
        if self.checkpoints is None:
            return False
        progress = self.checkpoints.resume()
        if progress is None:
            return False
        self.iteration, self.env_steps = progress.iteration, progress.env_steps
        self.finished = progress.finished
        self._start = time.perf_counter() - progress.seconds
        if self.check is not None:
            self.check.start = self._start
        return True

    def _progress(self, iteration: int, env_steps: int, train_steps: int, finished: bool):
        seconds = time.perf_counter() - self.start
        return Progress(int(iteration), int(env_steps), int(train_steps), seconds, finished)

    def after_iteration(self, iteration: int, env_steps: int, train_steps: int) -> None:
        """Save when another ``every`` train steps have passed."""
        if self.checkpoints is not None:
            self.checkpoints.maybe_save(self._progress(iteration, env_steps, train_steps, False))

    def finish(self, iteration: int, env_steps: int, train_steps: int) -> None:
        """Save the finished run (solved, or out of budget), unless it was restored finished."""
        if self.checkpoints is not None and not (self.finished and iteration == self.iteration):
            self.checkpoints.save(self._progress(iteration, env_steps, train_steps, True))
