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


def test_linear_epsilon_matches_keras_polynomial_decay():
    import tensorflow as tf

    schedule = tf.keras.optimizers.schedules.PolynomialDecay(1.0, 1000, 0.04)
    for step in (0, 10, 999, 1000, 4000):
        assert exercises.linear_epsilon(step) == pytest.approx(float(schedule(step)), abs=1e-6)


def test_wrong_epsilon_fails():
    with pytest.raises(AssertionError, match="should be"):
        exercises.check("02.linear_epsilon", lambda step, start, end, decay_steps: start)


# --- notebook 06: bootstrapped returns ----------------------------------------------------


def test_bootstrapped_returns_reference_passes_its_checker():
    message = exercises.CHECKS["06.bootstrapped_returns"](exercises.bootstrapped_returns)
    assert "match" in message


def test_bootstrapped_returns_checker_rejects_wrong_answers():
    def forgets_bootstrap(rewards, gamma, last_value=0.0):
        return exercises.bootstrapped_returns(rewards, gamma, 0.0)

    def undiscounted(rewards, gamma, last_value=0.0):
        return exercises.bootstrapped_returns(rewards, 1.0, last_value)

    def stub(rewards, gamma, last_value=0.0):
        raise NotImplementedError

    with pytest.raises(AssertionError, match="last_value"):
        exercises.CHECKS["06.bootstrapped_returns"](forgets_bootstrap)
    with pytest.raises(AssertionError):
        exercises.CHECKS["06.bootstrapped_returns"](undiscounted)
    with pytest.raises(NotImplementedError):
        exercises.CHECKS["06.bootstrapped_returns"](stub)


def test_bootstrapped_returns_rejects_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        exercises.bootstrapped_returns([1.0], 2.0)
    with pytest.raises(ValueError, match="non-empty"):
        exercises.bootstrapped_returns([], 0.9)
