"""The reference solutions pass their own checks, and wrong answers fail them."""

import pytest

from utils import exercises


@pytest.mark.parametrize("name", sorted(exercises.SOLUTIONS))
def test_reference_solution_passes(name):
    assert exercises.check(name, exercises.SOLUTIONS[name])


def test_every_solution_has_a_check():
    assert set(exercises.SOLUTIONS) == set(exercises.CHECKS)


def test_stub_gets_a_friendly_message():
    def stub(*_):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="still the stub"):
        exercises.check("01.lean_policy", stub)


def test_weak_answer_fails():
    with pytest.raises(AssertionError, match="aim for at least 100"):
        exercises.check("01.lean_policy", lambda obs: int(obs[2] > 0))


def test_constant_answer_fails():
    with pytest.raises(AssertionError, match="same total"):
        exercises.check("00.random_episode_return", lambda env, seed=0: 10.0)


def test_unknown_exercise():
    with pytest.raises(KeyError, match="No exercise"):
        exercises.check("99.nope", print)
