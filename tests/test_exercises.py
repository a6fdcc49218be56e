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


def _play(env, choose):
    """One episode of a Gymnasium env (notebook 00's API) with ``choose()`` for each action."""
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(choose())
        total += reward
        done = terminated or truncated
    return total


def always_right(env, seed=0):
    env.reset(seed=seed)
    return _play(env, lambda: 1)


def ignores_seed(env, seed=0):
    env.reset()
    return _play(env, env.action_space.sample)


def own_environment(env, seed=0):
    import gymnasium

    return exercises.random_episode_return(gymnasium.make("CartPole-v1"), seed)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (always_right, "pushed right: a random agent"),
        (ignores_seed, "seed=3 played differently"),
        (own_environment, "in the env you were given"),
    ],
)
def test_random_episode_return_rejects_plausible_wrong_answers(answer, message):
    with pytest.raises(AssertionError, match=message):
        exercises.check("00.random_episode_return", answer)


def test_semi_implicit_step_judges_float32_by_its_precision():
    import tensorflow as tf

    def in_float32(state, action):
        next_state, terminated = exercises.semi_implicit_step(tf.cast(state, tf.float32), action)
        return next_state, terminated

    assert "float32" in exercises.check("09.semi_implicit_step", in_float32)

    def explicit_euler(state, action):  # moves with the old speeds: the plausible mistake
        from utils.envs import tf_cartpole as cp

        x, x_dot, theta, theta_dot = tf.unstack(state, axis=-1)
        next_state, terminated = exercises.semi_implicit_step(state, action)
        _, nx_dot, _, ntheta_dot = tf.unstack(next_state, axis=-1)
        moved = [x + cp.TAU * x_dot, nx_dot, theta + cp.TAU * theta_dot, ntheta_dot]
        return tf.stack(moved, axis=-1), terminated

    with pytest.raises(AssertionError, match="update x_dot and theta_dot first"):
        exercises.check("09.semi_implicit_step", explicit_euler)

    def rounded(state, action):
        next_state, terminated = exercises.semi_implicit_step(state, action)
        return next_state + 1e-7, terminated

    with pytest.raises(AssertionError, match="float64 rounding"):
        exercises.check("09.semi_implicit_step", rounded)


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
        exercises.check("03.linear_epsilon", lambda step, start, end, decay_steps: start)


# --- notebook 08: bootstrapped returns ----------------------------------------------------


def test_bootstrapped_returns_check_trains_with_the_answer():
    calls = []

    def recording(rewards, gamma, last_value=0.0):
        calls.append((len(rewards), gamma, last_value))
        return exercises.bootstrapped_returns(rewards, gamma, last_value)

    message = exercises.CHECKS["08.bootstrapped_returns"](recording)
    assert "solved CartPole-v1" in message and "24 episodes match" in message
    trained = [(n, last_value) for n, gamma, last_value in calls if gamma == 0.99]
    assert len(trained) > 20  # one call per training episode
    # Episodes cut off at 500 steps bootstrap with 1 / (1 - gamma); the others with 0.
    assert any(n == 500 for n, _ in trained)
    for n, last_value in trained:
        assert last_value == (pytest.approx(100.0) if n == 500 else 0.0)


def test_bootstrapped_returns_check_reports_an_agent_that_does_not_learn(monkeypatch):
    monkeypatch.setattr(exercises, "BOOTSTRAP_MAX_EPISODES", 2)
    with pytest.raises(AssertionError, match=r"right numbers, but .* did not solve"):
        exercises.CHECKS["08.bootstrapped_returns"](exercises.bootstrapped_returns)


def ignores_last_value(rewards, gamma, last_value=0.0):
    return exercises.bootstrapped_returns(rewards, gamma, 0.0)


def undiscounted_last_value(rewards, gamma, last_value=0.0):
    import numpy as np

    plain = exercises.bootstrapped_returns(rewards, gamma, 0.0)
    return plain + gamma ** np.arange(len(rewards) - 1, -1, -1) * last_value


def normalised(rewards, gamma, last_value=0.0):
    returns = exercises.bootstrapped_returns(rewards, gamma, last_value)
    return (returns - returns.mean()) / (returns.std() + 1e-8)


def undiscounted(rewards, gamma, last_value=0.0):
    return exercises.bootstrapped_returns(rewards, 1.0, last_value)


def off_by_one(rewards, gamma, last_value=0.0):  # G_t = r_{t+1} + ...: not a named mistake
    import numpy as np

    returns = exercises.bootstrapped_returns(rewards, gamma, last_value)
    return np.append(returns[1:], last_value)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (ignores_last_value, "ignore last_value"),
        (undiscounted_last_value, "discount it like a later reward"),
        (normalised, "are normalised"),
        (undiscounted, "not discounted"),
        (off_by_one, "expected"),
    ],
)
def test_bootstrapped_returns_rejects_plausible_wrong_answers(answer, message):
    with pytest.raises(AssertionError, match=message) as error:
        exercises.CHECKS["08.bootstrapped_returns"](answer)
    assert "\n" not in str(error.value)  # one line


def test_bootstrapped_returns_stub_is_reported():
    def stub(rewards, gamma, last_value=0.0):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="still the stub"):
        exercises.check("08.bootstrapped_returns", stub)


def test_bootstrapped_returns_rejects_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        exercises.bootstrapped_returns([1.0], 2.0)
    with pytest.raises(ValueError, match="non-empty"):
        exercises.bootstrapped_returns([], 0.9)
