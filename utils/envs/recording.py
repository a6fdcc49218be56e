"""Episode statistics and videos for TF-Agents Python environments, headless.

Taught in notebook 05. :class:`RecordEpisodeStatistics` and :class:`RecordVideo` give a
TF-Agents ``PyEnvironment`` what Gymnasium's wrappers of the same names give a Gym
environment: the return, length and wall time of every finished episode, and a video of the
episodes a trigger selects. The frame rate always has a value (explicit ``fps``, else the
environment's metadata, else :data:`utils.infra.video.DEFAULT_FPS`), so the video writer never
receives ``None``, the cause of Gymnasium + moviepy's
``TypeError: must be real number, not NoneType``.

Wrap the Python environment before batching it or converting it with ``TFPyEnvironment``;
the wrappers stack, and attributes of inner wrappers (e.g. ``return_queue``) stay reachable
from the outer ones.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tf_agents.environments import py_environment, wrappers

from utils import bootstrap
from utils.envs import render_frame
from utils.infra.video import DEFAULT_FPS, write_gif, write_mp4

VIDEO_FORMATS = ("mp4", "gif")
FPS_KEYS = ("render_fps", "video.frames_per_second")  # newer Gym/Gymnasium, then gym < 0.22


# ----------------------------------------------------------------------------- triggers


def every_episode(episode_id: int) -> bool:
    """Trigger that selects every episode."""
    return True


def every_nth_episode(n: int) -> Callable[[int], bool]:
    """Trigger that selects episodes 0, n, 2n, ..."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a whole number >= 1 (1 records every episode); got {n!r}.")
    n = int(n)

    def trigger(episode_id: int) -> bool:
        return episode_id % n == 0

    trigger.__name__ = trigger.__qualname__ = f"every_nth_episode({n})"
    return trigger


def capped_cubic_episode(episode_id: int) -> bool:
    """Gymnasium's default schedule: episodes 0, 1, 8, 27, ..., 729, then 1000, 2000, ..."""
    if episode_id < 1000:
        return round(episode_id ** (1 / 3)) ** 3 == episode_id
    return episode_id % 1000 == 0


# ----------------------------------------------------------------------------- helpers


def _check_env(env: Any) -> None:
    if isinstance(env, py_environment.PyEnvironment):
        if env.batched:
            raise ValueError(
                "This wrapper records one unbatched environment. Wrap each environment first, "
                "then batch it (BatchedPyEnvironment) or convert it (TFPyEnvironment)."
            )
        return
    hint = (
        " Load a Gym environment with suite_gym.load(name)." if hasattr(env, "action_space") else ""
    )
    if hasattr(env, "pyenv"):
        hint = " Wrap the Python environment before converting it with TFPyEnvironment."
    raise TypeError(f"env must be a TF-Agents PyEnvironment; got {type(env).__name__}.{hint}")


def _env_chain(env: Any, limit: int = 32) -> Iterator[Any]:
    """The environment, then everything it wraps (TF-Agents wrappers, GymWrapper, Gym wrappers)."""
    seen: set[int] = set()
    todo = [env]
    while todo and len(seen) < limit:
        obj = todo.pop(0)
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        wrapped = getattr(type(obj), "wrapped_env", None)
        if callable(wrapped):
            todo.append(obj.wrapped_env())
        for name in ("gym", "env", "unwrapped"):
            try:
                todo.append(getattr(obj, name, None))
            except Exception:  # a property that fails is not a way down the chain
                continue


def _video_fps(fps: Any, env: Any) -> float:
    """A video's frame rate: ``fps`` when it is a positive number, :func:`env_fps` for None."""
    if fps is None:
        return env_fps(env)
    if (
        isinstance(fps, bool)
        or not isinstance(fps, int | float | np.number)
        or not math.isfinite(fps)
        or fps <= 0
    ):
        raise ValueError(f"fps must be a positive number, or None to use the env's; got {fps!r}.")
    return float(fps)


def env_fps(env: Any, default: float = DEFAULT_FPS) -> float:
    """Frame rate from the environment's (or a wrapped Gym environment's) metadata, else default."""
    for obj in _env_chain(env):
        try:
            metadata = getattr(obj, "metadata", None)
        except Exception:
            continue
        if not isinstance(metadata, Mapping):
            continue
        for key in FPS_KEYS:
            value = metadata.get(key)
            if isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0:
                return float(value)
    return float(default)


def _as_float(reward: Any) -> float:
    return float(np.sum(np.asarray(reward, dtype=np.float64)))


# ----------------------------------------------------------------------------- statistics


class _EpisodeWrapper(wrappers.PyEnvironmentBaseWrapper):
    """A wrapper that starts an episode on every reset, also one the wrapped env does itself.

    Subclasses say what starting an episode means (``_start_episode``) and what to do with
    each later step (``_on_step``).
    """

    def _start_episode(self) -> None:
        raise NotImplementedError

    def _on_step(self, time_step) -> None:
        raise NotImplementedError

    def _reset(self):
        time_step = self._env.reset()
        self._start_episode()
        return time_step

    def _step(self, action):
        time_step = self._env.step(action)
        if time_step.is_first():  # the wrapped environment reset itself after a LAST step
            self._start_episode()
        else:
            self._on_step(time_step)
        return time_step


class RecordEpisodeStatistics(_EpisodeWrapper):
    """Records the return, length (steps) and wall time (seconds) of every finished episode.

    The last ``deque_size`` episodes are kept in ``return_queue``, ``length_queue`` and
    ``time_queue``; ``episode_count`` and ``total_steps`` count everything. An episode
    interrupted by an explicit ``reset()`` is not counted.
    """

    def __init__(self, env: py_environment.PyEnvironment, deque_size: int = 100):
        _check_env(env)
        if isinstance(deque_size, bool) or not isinstance(deque_size, int | np.integer):
            raise ValueError(f"deque_size must be a whole number >= 1; got {deque_size!r}.")
        if deque_size < 1:
            raise ValueError(f"deque_size must be a whole number >= 1; got {deque_size!r}.")
        super().__init__(env)
        self.deque_size = int(deque_size)
        self.return_queue: deque[float] = deque(maxlen=self.deque_size)
        self.length_queue: deque[int] = deque(maxlen=self.deque_size)
        self.time_queue: deque[float] = deque(maxlen=self.deque_size)
        self.episode_count = 0
        self.total_steps = 0
        self._episode_return = 0.0
        self._episode_length = 0
        self._episode_start: float | None = None

    def _start_episode(self) -> None:
        self._episode_return = 0.0
        self._episode_length = 0
        self._episode_start = time.perf_counter()

    def _on_step(self, time_step) -> None:
        if self._episode_start is None:
            self._start_episode()
        self._episode_return += _as_float(time_step.reward)
        self._episode_length += 1
        self.total_steps += 1
        if time_step.is_last():
            self.return_queue.append(self._episode_return)
            self.length_queue.append(self._episode_length)
            self.time_queue.append(time.perf_counter() - self._episode_start)
            self.episode_count += 1
            self._episode_start = None

    def as_rows(self) -> list[dict[str, float | int]]:
        """The kept episodes as rows of ``episode`` (from 0), ``return``, ``length``, ``time``."""
        first = self.episode_count - len(self.return_queue)
        return [
            {"episode": first + i, "return": r, "length": n, "time": t}
            for i, (r, n, t) in enumerate(
                zip(self.return_queue, self.length_queue, self.time_queue, strict=True)
            )
        ]

    def summary(self) -> dict[str, float | int]:
        """Totals, and mean/min/max over the kept episodes (NaN before the first one ends)."""
        returns = np.asarray(self.return_queue, dtype=float)
        kept = len(returns)

        def stat(fn, values) -> float:
            return float(fn(values)) if kept else math.nan

        return {
            "episodes": self.episode_count,
            "total_steps": self.total_steps,
            "kept": kept,
            "mean_return": stat(np.mean, returns),
            "std_return": stat(np.std, returns),
            "min_return": stat(np.min, returns),
            "max_return": stat(np.max, returns),
            "mean_length": stat(np.mean, np.asarray(self.length_queue, dtype=float)),
            "mean_time": stat(np.mean, np.asarray(self.time_queue, dtype=float)),
        }

    def table(self, last: int | None = None) -> str:
        """The kept episodes (or the ``last`` few) as a plain-text table."""
        rows = self.as_rows()
        if last is not None:
            rows = rows[-last:] if last > 0 else []
        lines = [f"{'episode':>7}  {'return':>9}  {'length':>6}  {'time (s)':>8}"]
        lines += [
            f"{r['episode']:>7}  {r['return']:>9.2f}  {r['length']:>6}  {r['time']:>8.3f}"
            for r in rows
        ]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- video


class RecordVideo(_EpisodeWrapper):
    """Writes a video of each episode that ``episode_trigger`` selects (episodes count from 0).

    A frame is rendered at reset and after every step of a selected episode; when it ends,
    ``<video_folder>/<name_prefix>-episode-<index>.mp4`` (or ``.gif``) is written. A selected
    episode cut short by an explicit ``reset()`` or by ``close()`` is written too, with the
    frames it has (an episode that never took a step is dropped). ``recorded_paths`` lists
    the files written. A non-empty ``video_folder`` is refused unless ``overwrite=True``,
    which first removes earlier videos with the same ``name_prefix`` and nothing else.
    """

    def __init__(
        self,
        env: py_environment.PyEnvironment,
        video_folder: str | Path,
        episode_trigger: Callable[[int], bool] = capped_cubic_episode,
        name_prefix: str = "rl-video",
        fps: float | None = None,
        overwrite: bool = False,
        video_format: str = "mp4",
    ):
        _check_env(env)
        if video_format not in VIDEO_FORMATS:
            raise ValueError(f"video_format must be 'mp4' or 'gif'; got {video_format!r}.")
        if not isinstance(name_prefix, str) or not re.fullmatch(r"[\w.-]+", name_prefix):
            raise ValueError(
                "name_prefix must be a non-empty file-name part (letters, digits, '_', '-', '.'); "
                f"got {name_prefix!r}."
            )
        if not callable(episode_trigger):
            raise TypeError(
                "episode_trigger must be a function of the episode index that returns True to "
                "record it, e.g. every_episode or every_nth_episode(10)."
            )
        fps = _video_fps(fps, env)
        super().__init__(env)
        self.video_format = video_format
        self.name_prefix = name_prefix
        self.episode_trigger = episode_trigger
        self.fps = fps
        self.video_folder = self._prepare_folder(Path(video_folder), overwrite)
        self.episode_id = -1
        self.recorded_paths: list[Path] = []
        self._frames: list[np.ndarray] | None = None

    def _video_name(self) -> re.Pattern[str]:
        return re.compile(rf"{re.escape(self.name_prefix)}-episode-\d+\.(mp4|gif)")

    def _prepare_folder(self, folder: Path, overwrite: bool) -> Path:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"video_folder {str(folder)!r} is a file, not a folder.")
        if folder.exists() and any(folder.iterdir()):
            if not overwrite:
                raise FileExistsError(
                    f"The video folder {str(folder)!r} is not empty. Pass overwrite=True to "
                    "replace earlier videos with this name_prefix, or choose another folder."
                )
            pattern = self._video_name()
            for path in folder.iterdir():
                if path.is_file() and pattern.fullmatch(path.name):
                    path.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def recording(self) -> bool:
        """True while the current episode is being recorded."""
        return self._frames is not None

    def _start_episode(self) -> None:
        self._flush()
        self.episode_id += 1
        if self.episode_trigger(self.episode_id):
            self._frames = [render_frame(self._env)]

    def _flush(self) -> None:
        """Write the episode being recorded, if it took at least one step."""
        frames, self._frames = self._frames, None
        if frames is None or len(frames) < 2:
            return
        path = (
            self.video_folder / f"{self.name_prefix}-episode-{self.episode_id}.{self.video_format}"
        )
        writer = write_mp4 if self.video_format == "mp4" else write_gif
        self.recorded_paths.append(writer(frames, path, fps=self.fps))

    def _on_step(self, time_step) -> None:
        if self._frames is not None:
            self._frames.append(render_frame(self._env))
            if time_step.is_last():
                self._flush()

    def close(self) -> None:
        """Write an unfinished recorded episode (if it took a step), then close the environment."""
        self._flush()
        self._env.close()


# ----------------------------------------------------------------------------- Gymnasium's own


def _major(version: str) -> int:
    match = re.match(r"\d+", version)
    return int(match.group(0)) if match else 0


def moviepy_problem() -> str | None:
    """Why Gymnasium's ``RecordVideo`` cannot write its videos in this Python, or None.

    ``RecordVideo`` hands its frames and frame rate to moviepy. moviepy 1.x builds
    ``write_videofile`` with the ``decorator`` package: its ``use_clip_fps_by_default`` replaces
    the default ``fps=None`` by the clip's frame rate, which it only sees while ``decorator``
    4 passes the defaults along. ``decorator`` 5 no longer does, so the writer formats
    ``None`` as a number: ``TypeError: must be real number, not NoneType``, after the whole
    episode was played.
    """
    moviepy = bootstrap.installed("moviepy")
    if moviepy is None:
        return (
            "moviepy is not installed, and Gymnasium's RecordVideo writes with it: "
            "pip install moviepy==1.0.3 'decorator<5'"
        )
    decorator = bootstrap.installed("decorator") or "0"
    if _major(moviepy) == 1 and _major(decorator) >= 5:
        return (
            f"moviepy {moviepy} with decorator {decorator} loses the frame rate on the way to "
            "its writer (TypeError: must be real number, not NoneType): "
            "pip install 'decorator<5'"
        )
    return None


def gymnasium_recorders(
    env: Any,
    video_folder: str | Path,
    *,
    episode_trigger: Callable[[int], bool] = every_episode,
    name_prefix: str = "rl-video",
    buffer_length: int = 100,
    fps: float | None = None,
):
    """Gymnasium's own ``RecordVideo`` inside its ``RecordEpisodeStatistics``, for a Gymnasium
    environment made with ``render_mode="rgb_array"``.

    The frame rate is passed explicitly (``fps``, else :func:`env_fps`, never ``None``), and
    :func:`moviepy_problem` is checked before the first episode rather than after it.
    """
    from gymnasium.wrappers import RecordEpisodeStatistics as GymnasiumStatistics
    from gymnasium.wrappers import RecordVideo as GymnasiumVideo

    problem = moviepy_problem()
    if problem:
        raise RuntimeError(problem)
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError(
            "RecordVideo needs frames: make the environment with "
            "gymnasium.make(name, render_mode='rgb_array')."
        )
    fps = _video_fps(fps, env)
    env = GymnasiumVideo(
        env,
        video_folder=str(video_folder),
        episode_trigger=episode_trigger,
        name_prefix=name_prefix,
        fps=fps,
        disable_logger=True,
    )
    return GymnasiumStatistics(env, buffer_length=buffer_length)
