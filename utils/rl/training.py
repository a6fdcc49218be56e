"""The scaffold every trainer shares: settings, history, and the "is it solved yet?" check.

Taught in notebook 03 (the first trainer) and reused by every trainer after it. A trainer
keeps only what is really its own: its hyperparameters (a frozen dataclass that extends
:class:`TrainerSettings`), the extra things it records (a dataclass that extends
:class:`History`), and its loop. The rule for "solved" is the same everywhere
(:class:`SolveCheck`): a cheap *quick check* of a few greedy episodes, and only when it
passes, the *full check* of Gym's rule (100 episodes averaging at least the target);
training stops at the first full pass, so the agent keeps the policy that solved the task.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from utils import envs
from utils.infra import report
from utils.infra.report import Stopwatch, training_outcome
from utils.rl.evaluation import EvalResult, evaluate_gym

# --- settings ------------------------------------------------------------------------------


def _is_whole(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_between(name: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float if it is a number in [low, high], else a clear ValueError."""
    if (
        not isinstance(value, int | float | np.integer | np.floating)
        or isinstance(value, bool)
        or not low <= float(value) <= high
    ):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value!r}.")
    return float(value)


class Settings:
    """Base of every frozen settings dataclass: validation with one wording, and ``replace``.

    A subclass writes its rules in :meth:`validate` with the ``require_*`` helpers; they run
    whenever settings are made, so a wrong value fails at once with a message naming it.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Reject settings that cannot run (subclasses add their rules and call super)."""

    def replace(self, **changes):
        """A copy with some values changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def _values(self, names: Iterable[str], optional: bool):
        for name in names:
            value = getattr(self, name)
            if not (optional and value is None):
                yield name, value

    def require_whole(self, *names: str, minimum: int = 1, optional: bool = False) -> None:
        """Each field is a whole number >= ``minimum`` (or None, when ``optional``)."""
        for name, value in self._values(names, optional):
            if not _is_whole(value) or value < minimum:
                extra = " or None" if optional else ""
                raise ValueError(
                    f"{name} must be a whole number >= {minimum}{extra}, got {value!r}."
                )

    def require_positive(self, *names: str, optional: bool = False) -> None:
        """Each field is a number > 0 (or None, when ``optional``)."""
        for name, value in self._values(names, optional):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                extra = " or None" if optional else ""
                raise ValueError(f"{name} must be > 0{extra}, got {value!r}.")

    def require_between(self, *names: str, low: float = 0.0, high: float = 1.0) -> None:
        """Each field is a number in [low, high]."""
        for name in names:
            check_between(name, getattr(self, name), low, high)

    def require_fraction(self, *names: str) -> None:
        """Each field is a number in (0, 1], e.g. a target network's update rate τ."""
        self.require_positive(*names)  # 0 would never move anything
        self.require_between(*names)

    def require_one_of(self, name: str, choices: tuple[str, ...]) -> None:
        """The field is one of ``choices``."""
        if getattr(self, name) not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}.")

    def require_sizes(self, *names: str, optional: bool = False) -> None:
        """Each field is a non-empty tuple of whole numbers >= 1 (layer sizes)."""
        for name, value in self._values(names, optional):
            if not value or not all(_is_whole(v) and v >= 1 for v in value):
                raise ValueError(f"{name} must be one or more sizes >= 1, got {value!r}.")

    def require_scales(self, name: str) -> None:
        """The field is None or a tuple of numbers > 0 (e.g. observation magnitudes)."""
        value = getattr(self, name)
        if value is not None and not (value and all(v > 0 for v in value)):
            raise ValueError(f"{name} must be None or numbers > 0, got {value!r}.")

    def require_at_least(self, name: str, other: str, *, why: str = "") -> None:
        """The field is at least as large as the ``other`` field."""
        value, bound = getattr(self, name), getattr(self, other)
        if value < bound:
            reason = f" ({why})" if why else ""
            raise ValueError(f"{name} must be >= {other} ({bound!r}){reason}, got {value!r}.")


@dataclass(frozen=True, kw_only=True)
class TrainerSettings(Settings):
    """What every trainer's settings share: the environment and the rule for "solved"."""

    env_name: str = "CartPole-v1"  # a registered environment id
    # Quick checks every `eval_interval` iterations of the trainer's loop (for actor-critic an
    # iteration is one episode); each plays `eval_episodes` greedy episodes, and only when
    # their mean reaches `target_return` does the full check play `solve_episodes` more.
    eval_interval: int = 1
    eval_episodes: int = 10  # episodes of the quick check
    solve_episodes: int = 100  # episodes of the full check (Gym's rule for "solved")
    target_return: float | None = 475.0  # CartPole-v1's threshold; None: never "solved"
    max_episode_return: float | None = 500.0  # best return of one episode (checks stop early)

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        self.require_whole("eval_interval", "eval_episodes", "solve_episodes")
        self.require_at_least("solve_episodes", "eval_episodes")
        if self.target_return is None and self.max_episode_return is not None:
            raise ValueError("max_episode_return needs a target_return (or set both to None).")

    @property
    def stop_early(self) -> dict[str, float | None]:
        """Keyword arguments that let an evaluation stop once the target is out of reach."""
        if self.target_return is None or self.max_episode_return is None:
            return {}
        return {"target": self.target_return, "max_episode_return": self.max_episode_return}


# --- history -------------------------------------------------------------------------------


def default_timings() -> dict[str, float]:
    """Seconds spent per phase of a training loop, all zero to start with."""
    return {"collect": 0.0, "train": 0.0, "evaluate": 0.0}


@dataclass
class History:
    """What happened during training: checks, losses, the outcome and where the time went.

    Every trainer's history extends this one with what only it records.
    """

    label: str = ""  # printed before the summary, e.g. the settings' name
    # One entry per quick check of the greedy policy.
    eval_env_steps: list[int] = field(default_factory=list)  # when it ran
    eval_seconds: list[float] = field(default_factory=list)  # since the start of training
    eval_returns: list[float] = field(default_factory=list)  # mean of the finished episodes
    eval_complete: list[bool] = field(default_factory=list)  # False: stopped early
    full_evals: list[tuple[int, float]] = field(default_factory=list)  # (env steps, mean)
    full_eval_complete: list[bool] = field(default_factory=list)  # False: it stopped early
    # The loss of the last train step of every iteration, and when it was measured.
    losses: list[float] = field(default_factory=list)
    loss_env_steps: list[int] = field(default_factory=list)
    solved: bool = False
    solved_return: float | None = None  # the full check's mean when it passed
    solved_episodes: int | None = None  # ... and how many episodes it played
    seconds_to_solve: float | None = None
    env_steps_to_solve: int | None = None
    resumes: list[int] = field(default_factory=list)  # env steps where a run resumed (nb 11)
    iterations: int = 0  # of the trainer's loop (for actor-critic: training episodes)
    env_steps: int = 0
    train_steps: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=default_timings)

    def record_loss(self, env_steps: int, loss: float) -> float:
        """Keep one loss value and the step count it belongs to; return it as a float."""
        loss = float(loss)
        self.losses.append(loss)
        self.loss_env_steps.append(int(env_steps))
        return loss

    def finish(self, start: float, *, iterations: int, env_steps: int, train_steps: int) -> None:
        """Record the totals at the end of training (``start``: ``time.perf_counter()``)."""
        self.iterations = int(iterations)
        self.env_steps = int(env_steps)
        self.train_steps = int(train_steps)
        self.seconds = time.perf_counter() - start

    @property
    def env_steps_per_second(self) -> float:
        """Environment steps per second of the whole loop (training and evaluation)."""
        return self.env_steps / self.seconds if self.seconds else float("nan")

    def summary(self) -> str:
        """One line: solved or not, how fast, where the time went."""
        outcome = training_outcome(
            self.solved,
            solved_return=self.solved_return,
            env_steps_to_solve=self.env_steps_to_solve,
            seconds_to_solve=self.seconds_to_solve,
            env_steps=self.env_steps,
            timings=self.timings,
            check=f"{self.solved_episodes} episodes",
        )
        return f"{self.label}: {outcome}" if self.label else outcome

    def to_dict(self) -> dict:
        """Everything as plain Python values (for JSON)."""
        return dataclasses.asdict(self)


@dataclass
class QHistory(History):
    """A value-based trainer's history: also ε and the value of start states at each check."""

    eval_epsilons: list[float] = field(default_factory=list)  # ε at each quick check
    # ... and the greedy value max_a Q(s, a) of fixed start states, averaged (how much return
    # the network expects from the start; about 1 / (1 - gamma) for a policy that never fails).
    eval_start_values: list[float] = field(default_factory=list)


# --- the "solved" check ----------------------------------------------------------------------


def gym_checks(
    settings: TrainerSettings, actions: Callable, *, seed: int = 0, discrete: bool = True
) -> tuple[Callable[[], EvalResult], Callable[[], EvalResult]]:
    """The quick and the full check for :class:`SolveCheck`, on Gymnasium environments.

    Returns ``(quick, full)``, two functions of no arguments. Each plays the greedy
    ``actions`` (a batch of observations to a batch of actions) on environments of its own, one
    per episode and all stepped together, seeded from ``1000 * seed + 1`` (quick) and
    ``1000 * seed + 500`` (full), and stops once ``settings.target_return`` is out of reach.
    """

    def environments(count: int, first_seed: int) -> list:
        return [
            envs.make_env(settings.env_name, seed=first_seed + i, discrete=discrete)
            for i in range(count)
        ]

    quick_envs = environments(settings.eval_episodes, 1000 * seed + 1)
    full_envs = environments(settings.solve_episodes, 1000 * seed + 500)

    def quick() -> EvalResult:
        return evaluate_gym(quick_envs, actions, settings.eval_episodes, **settings.stop_early)

    def full() -> EvalResult:
        return evaluate_gym(full_envs, actions, settings.solve_episodes, **settings.stop_early)

    quick.envs, full.envs = quick_envs, full_envs  # a checkpoint saves where they stand
    return quick, full


class SolveCheck:
    """Is it solved yet? The quick check, then the full check only when the quick one passes.

    ``quick`` and ``full`` play greedy episodes and return an ``EvalResult``; they receive
    whatever the trainer passes after ``env_steps`` (e.g. the episode number, to seed fresh
    starts). ``full=None`` makes the quick check the only one (it then decides). Each
    call records the checks in ``history``, adds their time to ``history.timings["evaluate"]``
    and returns True once the full check reaches ``target``; ``status`` says how the last
    check went, for a progress bar. ``environments``: the lists of environments the checks
    play on and on (a checkpoint saves them, so a resumed run meets the same episodes).
    """

    def __init__(
        self,
        history: History,
        *,
        quick: Callable[..., EvalResult],
        full: Callable[..., EvalResult] | None,
        target: float | None,
        start: float,
        environments: tuple[list, ...] = (),
    ) -> None:
        self.history, self.quick, self.full = history, quick, full
        self.target, self.start, self.environments = target, start, environments
        self.status = "-"

    def progress(self, bar, env_steps: int, loss: float, *, close: bool = False) -> None:
        """Show the step count, the last loss and the last check on a ``tqdm`` progress bar.

        ``close=True`` shows them one last time and closes the bar (after the loop).
        """
        postfix = {"step": env_steps, "loss": f"{loss:.3g}", "eval": self.status}
        report.update_bar(bar, postfix, close=close)

    def __call__(self, env_steps: int, *args: object) -> bool:
        history = self.history
        with Stopwatch(history.timings, "evaluate"):
            check = self.quick(*args)
            history.eval_env_steps.append(int(env_steps))
            history.eval_seconds.append(time.perf_counter() - self.start)
            history.eval_returns.append(float(check.mean))
            history.eval_complete.append(bool(check.complete))
            self.status = f"{check.mean:.0f}" + ("" if check.complete else "*")
            full = check if self.full is None else None
            if self.full is not None and check.reaches(self.target):
                full = self.full(*args)
                history.full_evals.append((int(env_steps), float(full.mean)))
                history.full_eval_complete.append(bool(full.complete))
        if full is None or not full.reaches(self.target):
            return False
        history.solved = True
        history.solved_return = float(full.mean)
        history.solved_episodes = int(full.episodes)
        history.seconds_to_solve = time.perf_counter() - self.start
        history.env_steps_to_solve = int(env_steps)
        self.status = "solved"
        return True
