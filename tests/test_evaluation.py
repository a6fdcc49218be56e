"""Tests for utils.rl.evaluation on a scripted environment with known returns."""

import numpy as np
import pytest
from scripted_env import ScriptedEnv
from tf_agents.environments import batched_py_environment, tf_py_environment
from tf_agents.policies import random_py_policy, random_tf_policy

from utils.rl import evaluation


def py_random(env):
    return random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)


def tf_random(env):
    return random_tf_policy.RandomTFPolicy(env.time_step_spec(), env.action_spec())


def test_exact_returns_on_a_python_env():
    env = ScriptedEnv(lengths=(3, 5, 7))
    result = evaluation.evaluate(env, py_random(env), num_episodes=6)
    assert result.returns == [3, 5, 7, 3, 5, 7]
    assert result.mean == pytest.approx(5.0) and result.complete and result.episodes == 6


def test_average_return_with_a_tf_policy_on_a_python_env():
    env = ScriptedEnv(lengths=(4,))
    tf_env = tf_py_environment.TFPyEnvironment(ScriptedEnv(lengths=(4,)))
    assert evaluation.average_return(env, tf_random(tf_env), 3) == pytest.approx(4.0)


def test_exact_returns_on_a_tf_env():
    tf_env = tf_py_environment.TFPyEnvironment(ScriptedEnv(lengths=(2, 6)))
    result = evaluation.evaluate(tf_env, tf_random(tf_env), num_episodes=4)
    assert sorted(result.returns) == [2, 2, 6, 6]


def test_batched_env_runs_a_fixed_share_per_copy():
    # Copy 0 has short episodes, copy 1 long ones: stopping at the first N finished
    # episodes would over-count the short ones; fixed shares keep the mean unbiased.
    envs = [ScriptedEnv(lengths=(2,)), ScriptedEnv(lengths=(10,))]
    batched = batched_py_environment.BatchedPyEnvironment(envs, multithreading=False)
    tf_env = tf_py_environment.TFPyEnvironment(ScriptedEnv(lengths=(2,)))
    result = evaluation.evaluate(batched, tf_random(tf_env), num_episodes=6)
    assert sorted(result.returns) == [2, 2, 2, 10, 10, 10]
    assert result.mean == pytest.approx(6.0)


def test_uneven_shares():
    assert list(evaluation._episode_shares(7, 3)) == [3, 2, 2]
    assert list(evaluation._episode_shares(2, 4)) == [1, 1, 0, 0]


def test_early_stop_when_target_out_of_reach():
    env = ScriptedEnv(lengths=(1,))
    result = evaluation.evaluate(env, py_random(env), 100, target=9.0, max_episode_return=10.0)
    assert not result.complete
    # After k episodes of return 1: (k + (100 - k) * 10) / 100 < 9  <=>  k > 11.1
    assert result.episodes == 12
    assert "stopped early" in str(result)


def test_no_early_stop_when_target_reachable():
    env = ScriptedEnv(lengths=(10,))
    result = evaluation.evaluate(env, py_random(env), 20, target=9.0, max_episode_return=10.0)
    assert result.complete and result.mean == 10.0


@pytest.mark.parametrize("bad", [0, -3, 2.5, None])
def test_bad_episode_counts_are_clear_errors(bad):
    env = ScriptedEnv()
    with pytest.raises(ValueError, match="num_episodes must be a whole number >= 1"):
        evaluation.evaluate(env, py_random(env), bad)


def test_target_needs_max_return():
    env = ScriptedEnv()
    with pytest.raises(ValueError, match="both target and max_episode_return"):
        evaluation.evaluate(env, py_random(env), 3, target=1.0)


def test_gym_env_gets_a_hint():
    import gym
    import gymnasium

    for env in (gym.make("CartPole-v1"), gymnasium.make("CartPole-v1")):
        with pytest.raises(TypeError, match=r"evaluate_gym, or .* envs\.load_env\(name\)"):
            evaluation.evaluate(env, None, 1)


def test_tf_env_needs_tf_policy():
    tf_env = tf_py_environment.TFPyEnvironment(ScriptedEnv())
    with pytest.raises(TypeError, match="TensorFlow policy"):
        evaluation.evaluate(tf_env, py_random(ScriptedEnv()), 1)


def test_never_ending_env_is_reported():
    env = ScriptedEnv(lengths=(10**9,))
    with pytest.raises(RuntimeError, match="without finishing"):
        evaluation.evaluate(env, py_random(env), 1, max_steps=50)


def test_random_cartpole_baseline_is_about_22():
    from utils.envs import load_env

    env = load_env("CartPole-v1")
    env.seed(0)
    mean = evaluation.average_return(env, py_random(env), 100)
    assert 18 <= mean <= 27
    assert np.isfinite(mean)


def test_reaches_needs_a_complete_run_at_or_above_the_target():
    EvalResult = evaluation.EvalResult
    assert EvalResult(475.0, [475.0], 1, complete=True).reaches(475.0)
    assert not EvalResult(474.9, [474.9], 1, complete=True).reaches(475.0)
    assert not EvalResult(500.0, [500.0], 1, complete=False).reaches(475.0)
    assert not EvalResult(500.0, [500.0], 1, complete=True).reaches(None)


class _CountdownGymEnv:
    """Gym-style env: each episode lasts ``length`` steps with reward 1; records reset seeds."""

    def __init__(self, length):
        self.length, self.t, self.seeds = length, 0, []

    def reset(self, seed=None):
        self.seeds.append(seed)
        self.t = 0
        return np.zeros(4)

    def step(self, action):
        self.t += 1
        return np.zeros(4), 1.0, self.t >= self.length, {}


def test_evaluate_gym_shares_episodes_and_seeds_the_first_reset():
    from utils.rl.evaluation import evaluate_gym

    envs = [_CountdownGymEnv(3), _CountdownGymEnv(5)]
    calls = []

    def actions(observations):
        calls.append(len(observations))
        return np.zeros(len(observations), dtype=int)

    result = evaluate_gym(envs, actions, 5, seed=10)
    assert result.complete and sorted(result.returns) == [3, 3, 3, 5, 5]
    assert result.mean == pytest.approx(19 / 5)
    assert envs[0].seeds[0] == 10 and envs[1].seeds[0] == 11
    assert calls[0] == 2  # one call for both envs


def test_evaluate_gym_stops_when_the_target_is_out_of_reach():
    from utils.rl.evaluation import evaluate_gym

    result = evaluate_gym(
        [_CountdownGymEnv(2)], lambda o: [0] * len(o), 10, target=9.5, max_episode_return=10.0
    )
    assert not result.complete and result.returns == [2.0]


def test_evaluate_gym_passes_discrete_actions_as_int_and_continuous_ones_as_arrays():
    import gym

    from utils.rl.evaluation import evaluate_gym

    seen = []

    class Recording(gym.Wrapper):
        def step(self, action):
            seen.append(action)
            return self.env.step(action)

    cartpole = Recording(gym.make("CartPole-v1"))
    evaluate_gym([cartpole], lambda o: np.ones(len(o), dtype=np.int64), 1, seed=0)
    assert seen and all(type(a) is int and a == 1 for a in seen)
    seen.clear()
    pendulum = Recording(gym.make("Pendulum-v1"))
    result = evaluate_gym([pendulum], lambda o: np.full((len(o), 1), 0.5, np.float32), 1, seed=0)
    assert result.complete and len(seen) == 200  # Pendulum's step limit
    assert all(isinstance(a, np.ndarray) and a.shape == (1,) and a[0] == 0.5 for a in seen)


def test_evaluate_gym_ends_gymnasium_episodes_when_terminated_or_truncated():
    import gymnasium

    from utils.rl.evaluation import evaluate_gym

    def lean(observations):  # notebook 01's lean policy: balances far beyond 20 steps
        return (observations[:, 2] + 0.5 * observations[:, 3] > 0).astype(int)

    clocks = [gymnasium.make("CartPole-v1", max_episode_steps=20) for _ in range(2)]
    result = evaluate_gym(clocks, lean, 4, seed=0)  # every episode truncated at 20 steps
    assert result.complete and result.returns == [20.0] * 4
    falls = [gymnasium.make("CartPole-v1") for _ in range(2)]
    result = evaluate_gym(falls, lambda o: np.ones(len(o), int), 4, seed=0)  # terminated
    assert result.complete and all(8 <= r < 50 for r in result.returns)


def test_evaluate_gym_rejects_bad_input():
    from utils.rl.evaluation import evaluate_gym

    with pytest.raises(ValueError, match="num_episodes"):
        evaluate_gym([_CountdownGymEnv(2)], lambda o: [0] * len(o), 0)
    with pytest.raises(ValueError, match="at least one environment"):
        evaluate_gym([], lambda o: [0] * len(o), 1)


def test_policy_actions_matches_the_greedy_policy_for_any_batch_size():
    import tensorflow as tf
    from tf_agents.networks import sequential
    from tf_agents.policies import greedy_policy, q_policy
    from tf_agents.specs import tensor_spec

    env = ScriptedEnv(lengths=(4,))
    network = sequential.Sequential(
        [tf.keras.layers.Dense(2)], input_spec=tensor_spec.from_spec(env.observation_spec())
    )
    policy = greedy_policy.GreedyPolicy(
        q_policy.QPolicy(
            tensor_spec.from_spec(env.time_step_spec()),
            tensor_spec.from_spec(env.action_spec()),
            q_network=network,
        )
    )
    actions = evaluation.policy_actions(policy)
    rng = np.random.default_rng(0)
    for batch in (1, 5, 2):  # one compiled function serves every batch size
        observations = rng.normal(size=(batch, 2)).astype(np.float32)
        q_values, _ = network(observations)
        np.testing.assert_array_equal(actions(observations), np.argmax(q_values, axis=-1))


def test_policy_actions_needs_a_tf_policy():
    env = ScriptedEnv(lengths=(4,))
    with pytest.raises(TypeError, match="TensorFlow policy"):
        evaluation.policy_actions(py_random(env))


def test_policy_actions_needs_a_single_observation_tensor():
    from tf_agents.specs import tensor_spec
    from tf_agents.trajectories import time_step as ts

    observation = {
        "a": tensor_spec.TensorSpec([2], np.float32),
        "b": tensor_spec.TensorSpec([1], np.float32),
    }
    action = tensor_spec.BoundedTensorSpec([], np.int64, 0, 1)
    policy = random_tf_policy.RandomTFPolicy(ts.time_step_spec(observation), action)
    with pytest.raises(ValueError, match="single observation tensor"):
        evaluation.policy_actions(policy)
