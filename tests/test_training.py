"""utils.rl.training: the settings base, the history base and the "solved" check."""

from __future__ import annotations

import dataclasses

import pytest

from utils.agents import actor_critic, dqn, dqn_scratch, fast_dqn, ppo
from utils.rl.evaluation import EvalResult
from utils.rl.training import History, Settings, SolveCheck, TrainerSettings, check_between


@dataclasses.dataclass(frozen=True, kw_only=True)
class Toy(TrainerSettings):
    size: int = 4  # a whole number
    rate: float = 0.5  # a positive number
    share: float = 0.2  # in [0, 1]
    kind: str = "a"  # one of a, b
    layers: tuple[int, ...] = (8,)  # sizes
    clip: float | None = None  # optional

    def validate(self) -> None:
        super().validate()
        self.require_whole("size")
        self.require_positive("rate")
        self.require_between("share")
        self.require_one_of("kind", ("a", "b"))
        self.require_sizes("layers")
        self.require_positive("clip", optional=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"size": 0}, "size must be a whole number >= 1, got 0."),
        ({"size": 2.5}, "size must be a whole number >= 1, got 2.5."),
        ({"size": True}, "size must be a whole number >= 1, got True."),
        ({"rate": 0.0}, "rate must be > 0, got 0.0."),
        ({"share": 1.5}, "share must be in [0, 1], got 1.5."),
        ({"kind": "c"}, "kind must be one of ('a', 'b'), got 'c'."),
        ({"layers": ()}, "layers must be one or more sizes >= 1, got ()."),
        ({"layers": (8, 0)}, "layers must be one or more sizes >= 1, got (8, 0)."),
        ({"clip": -1.0}, "clip must be > 0 or None, got -1.0."),
        ({"eval_interval": 0}, "eval_interval must be a whole number >= 1, got 0."),
        ({"solve_episodes": 5}, "solve_episodes must be >= eval_episodes (10), got 5."),
        ({"target_return": None}, "max_episode_return needs a target_return"),
    ],
)
def test_one_wording_for_every_rule(changes, message):
    with pytest.raises(ValueError) as caught:
        Toy().replace(**changes)
    assert str(caught.value).startswith(message)


def test_replace_validates_and_keeps_the_original():
    toy = Toy()
    assert toy.replace(size=9).size == 9 and toy.size == 4
    assert Toy(clip=None).clip is None
    with pytest.raises(TypeError):
        Toy(4)  # keyword-only: settings are always named


def test_check_between_is_the_same_rule_for_arguments():
    assert check_between("gamma", 0.9, 0.0, 1.0) == 0.9
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\], got 'x'"):
        check_between("gamma", "x", 0.0, 1.0)


def test_stop_early_needs_both_bounds():
    assert Toy().stop_early == {"target": 475.0, "max_episode_return": 500.0}
    assert Toy(max_episode_return=None).stop_early == {}
    assert Toy(target_return=None, max_episode_return=None).stop_early == {}


@pytest.mark.parametrize(
    "cls",
    [
        dqn.DqnSettings,
        dqn_scratch.ScratchSettings,
        fast_dqn.FastDqnSettings,
        ppo.PpoSettings,
        actor_critic.ActorCriticSettings,
    ],
)
def test_every_trainer_builds_on_the_scaffold(cls):
    assert issubclass(cls, Settings)
    assert "replace" not in vars(cls) and "__post_init__" not in vars(cls)
    history = {
        dqn.DqnSettings: dqn.DqnHistory,
        dqn_scratch.ScratchSettings: dqn_scratch.ScratchHistory,
        fast_dqn.FastDqnSettings: fast_dqn.FastHistory,
        ppo.PpoSettings: ppo.PpoHistory,
        actor_critic.ActorCriticSettings: actor_critic.ActorCriticHistory,
    }[cls]
    assert issubclass(history, History)
    base = {f.name for f in dataclasses.fields(History)}
    own = {f.name for f in dataclasses.fields(history)} - base
    # A few of its own (the actor-critic also counts its checks in episodes, not steps).
    assert len(own) <= 7, f"{history.__name__} repeats the base's fields? {own}"


def result(mean, complete=True, episodes=10):
    return EvalResult(mean, [mean] * episodes, episodes, complete)


def test_the_full_check_runs_only_after_a_quick_pass():
    history = History(label="toy")
    quick_results = iter([result(100.0), result(30.0, complete=False), result(490.0)])
    full_results = iter([result(470.0, episodes=100), result(480.0, episodes=100)])
    played = []

    def quick(*args):
        played.append(("quick", args))
        return next(quick_results)

    def full(*args):
        played.append(("full", args))
        return next(full_results)

    solved = SolveCheck(history, quick=quick, full=full, target=475.0, start=0.0)
    assert not solved(256, "a") and solved.status == "100"
    assert not solved(512, "b") and solved.status == "30*"
    assert not solved(768, "c")  # the quick check passes, the full one does not
    assert played == [("quick", ("a",)), ("quick", ("b",)), ("quick", ("c",)), ("full", ("c",))]
    quick_results = iter([result(495.0)])
    assert solved(1024) and solved.status == "solved"
    assert history.eval_env_steps == [256, 512, 768, 1024]
    assert history.eval_returns == [100.0, 30.0, 490.0, 495.0]
    assert history.eval_complete == [True, False, True, True]
    assert history.full_evals == [(768, 470.0), (1024, 480.0)]
    assert history.solved and history.solved_return == 480.0 and history.solved_episodes == 100
    assert history.env_steps_to_solve == 1024 and history.seconds_to_solve > 0
    assert history.timings["evaluate"] > 0
    history.finish(0.0, iterations=4, env_steps=1024, train_steps=64)
    assert history.summary().startswith("toy: solved (average return 480.0 over 100 episodes)")


def test_without_a_full_check_the_quick_one_decides():
    history = History()
    checks = iter([result(480.0, complete=False, episodes=100), result(476.0, episodes=100)])
    solved = SolveCheck(history, quick=lambda: next(checks), full=None, target=475, start=0.0)
    assert not solved(10)  # stopped early: not a pass, whatever the mean
    assert solved(20) and history.full_evals == []
    assert history.summary().startswith("solved (average return 476.0 over 100 episodes)")


def test_no_target_never_solves():
    history = History()
    solved = SolveCheck(history, quick=lambda: result(500.0), full=None, target=None, start=0.0)
    assert not solved(1) and not history.solved
    history.finish(0.0, iterations=1, env_steps=1, train_steps=0)
    assert history.summary().startswith("not solved after 1 environment steps")


def test_progress_shows_the_last_check_and_closes_the_bar():
    class Bar:
        closed = False
        n, total = 3, 200  # three iterations ran of at most 200

        def set_postfix(self, postfix, refresh):
            self.postfix, self.refresh = postfix, refresh

        def close(self):
            self.closed = True

    bar, history = Bar(), History()
    solved = SolveCheck(history, quick=lambda: result(42.0), full=None, target=475, start=0.0)
    solved(7)
    solved.progress(bar, 7, 0.1234)
    assert bar.postfix == {"step": 7, "loss": "0.123", "eval": "42"} and not bar.closed
    solved.progress(bar, 7, 0.1234, close=True)
    assert bar.refresh and bar.closed
    assert bar.total == 3  # shown complete where the loop ended


def test_history_records_losses_and_converts_to_plain_values():
    history = History()
    assert history.record_loss(5, 1.5) == 1.5
    assert history.losses == [1.5] and history.loss_env_steps == [5]
    assert history.to_dict()["losses"] == [1.5]
