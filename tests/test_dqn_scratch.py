"""The from-scratch DQN of notebook 07: replay buffer, schedules, TD target, train step, sync."""

import dataclasses
import itertools

import gymnasium
import numpy as np
import pytest

from utils import envs, exercises
from utils.agents import dqn, dqn_scratch
from utils.agents.dqn_scratch import EpsilonSchedule, ReplayBuffer, RingBuffer
from utils.rl.evaluation import evaluate_gym

# --- replay buffer ---------------------------------------------------------------------------


def fill(buffer, n, start=0):
    for i in range(start, start + n):
        buffer.add([i, i, i], i % 2, float(i), [i + 1, i + 1, i + 1], i % 5 == 4)


def test_buffer_stores_transitions_in_order():
    buffer = ReplayBuffer(10, (3,), seed=0)
    fill(buffer, 4)
    assert len(buffer) == 4 and buffer.next_index == 4
    np.testing.assert_array_equal(buffer.observations[:4, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(buffer.next_observations[:4, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(buffer.actions[:4], [0, 1, 0, 1])
    np.testing.assert_array_equal(buffer.terminated[:5], [0, 0, 0, 0, 0])


def test_buffer_is_a_ring_that_overwrites_the_oldest():
    buffer = ReplayBuffer(5, (3,), seed=0)
    fill(buffer, 7)  # transitions 0..6; 0 and 1 are overwritten by 5 and 6
    assert len(buffer) == 5 and buffer.next_index == 2
    assert sorted(buffer.rewards.tolist()) == [2, 3, 4, 5, 6]
    batch = buffer.sample(500)
    assert set(batch.rewards.tolist()) == {2.0, 3.0, 4.0, 5.0, 6.0}  # uniform: all of them
    # Every sampled transition is consistent: reward i goes with observation i and i + 1.
    np.testing.assert_array_equal(batch.observations[:, 0], batch.rewards)
    np.testing.assert_array_equal(batch.next_observations[:, 0], batch.rewards + 1)
    np.testing.assert_array_equal(batch.terminated, (batch.rewards % 5 == 4).astype(np.float32))


def test_buffer_samples_uniformly_and_reproducibly():
    buffer = ReplayBuffer(100, (3,), seed=1)
    fill(buffer, 4)
    counts = np.bincount(buffer.sample(8000).rewards.astype(int), minlength=4)
    assert np.all(np.abs(counts / 8000 - 0.25) < 0.03), counts
    a, b = ReplayBuffer(100, (3,), seed=7), ReplayBuffer(100, (3,), seed=7)
    fill(a, 50)
    fill(b, 50)
    np.testing.assert_array_equal(a.sample(32).rewards, b.sample(32).rewards)


def test_buffer_batch_shapes_and_dtypes():
    buffer = ReplayBuffer(100, (3,), seed=0)
    fill(buffer, 20)
    batch = buffer.sample(16)
    obs, actions, rewards = batch.observations, batch.actions, batch.rewards
    next_obs, terminated = batch.next_observations, batch.terminated
    assert obs.shape == next_obs.shape == (16, 3) and obs.dtype == np.float32
    assert actions.shape == rewards.shape == terminated.shape == (16,)
    assert actions.dtype == np.int32 and terminated.dtype == np.float32


@pytest.mark.parametrize("capacity", [0, -5, 2.5, None])
def test_buffer_rejects_bad_capacity(capacity):
    with pytest.raises(ValueError, match="capacity must be"):
        ReplayBuffer(capacity, (3,))


def test_the_ring_stores_and_the_replay_buffer_samples():
    ring = RingBuffer(5, (3,))
    fill(ring, 7)
    assert len(ring) == 5 and ring.next_index == 2 and not hasattr(ring, "sample")
    assert issubclass(ReplayBuffer, RingBuffer)


def test_buffer_errors_are_clear():
    buffer = ReplayBuffer(10, (3,))
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(4)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        buffer.add([1, 2], 0, 1.0, [1, 2, 3], False)


# --- exploration -----------------------------------------------------------------------------


def test_linear_epsilon_schedule():
    schedule = EpsilonSchedule(1.0, 0.04, 1000)
    assert schedule(0) == 1.0
    assert schedule(500) == pytest.approx(0.52)
    assert schedule(1000) == pytest.approx(0.04)
    assert schedule(10_000) == pytest.approx(0.04)
    assert schedule(-5) == 1.0
    values = [schedule(s) for s in range(0, 1200, 100)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_constant_epsilon_and_course_schedule():
    constant = EpsilonSchedule.constant(0.1)
    assert {constant(s) for s in (0, 1, 10_000)} == {0.1}
    s = dqn_scratch.COURSE
    course = EpsilonSchedule(s.epsilon_start, s.epsilon_end, s.epsilon_decay_steps)
    assert course == EpsilonSchedule(1.0, 0.04, 1000)
    for step in (0, 250, 999, 1000, 5000):  # the same rule as exercise 03
        assert course(step) == pytest.approx(exercises.linear_epsilon(step))


@pytest.mark.parametrize("args", [(1.5, 0.1, 10), (1.0, -0.1, 10), (1.0, 0.1, -1)])
def test_epsilon_schedule_rejects_bad_values(args):
    with pytest.raises(ValueError):
        EpsilonSchedule(*args)


def test_act_explores_with_probability_epsilon():
    agent = dqn_scratch.DQNAgent(dqn_scratch.COURSE.replace(hidden_layers=(8,)), 4, 2)
    rng = np.random.default_rng(0)
    obs = np.zeros(4, np.float32)
    greedy = int(agent.greedy_actions(obs[None])[0])
    assert {agent.act(obs, 0.0, rng) for _ in range(20)} == {greedy}
    actions = [agent.act(obs, 1.0, rng) for _ in range(200)]
    assert 60 < sum(actions) < 140  # random: about half each way


# --- terminated versus truncated -------------------------------------------------------------


class _Recorder(dqn_scratch.ReplayBuffer):
    """A replay buffer that also keeps the `terminated` flag of every transition in order."""

    def add(self, observation, action, reward, next_observation, terminated):
        self.flags = [*getattr(self, "flags", []), bool(terminated)]
        super().add(observation, action, reward, next_observation, terminated)


def _collect_on_a_short_clock(time_limit_truncates):
    """Collect 10 steps of alternating pushes in CartPole with a 5-step clock."""

    class Alternate:  # pushes left, right, left, ...: the pole cannot fall in five steps
        settings = dqn_scratch.COURSE.replace(time_limit_truncates=time_limit_truncates)
        step = 0

        def act(self, observation, epsilon, rng):
            self.step += 1
            return self.step % 2

    env = gymnasium.make("CartPole-v1", max_episode_steps=5)
    buffer, history = _Recorder(100, (4,)), dqn_scratch.ScratchHistory()
    play = dqn_scratch.Collector(env, Alternate(), buffer, history, seed=0)
    play.run(10, epsilon=0.0)
    return buffer.flags, history


def test_collector_stores_terminated_not_truncated():
    flags, history = _collect_on_a_short_clock(time_limit_truncates=True)
    assert flags == [False] * 10  # two episodes cut off by the clock: nothing terminated
    assert history.episode_truncated == [True, True] and history.episode_returns == [5.0, 5.0]


def test_masking_with_terminated_or_truncated_reproduces_old_gyms_bug():
    flags, history = _collect_on_a_short_clock(time_limit_truncates=False)
    assert flags == [False] * 4 + [True] + [False] * 4 + [True]  # the clock "terminated"
    assert history.episode_truncated == [True, True]


def test_gymnasium_reports_a_falling_pole_as_terminated():
    env = envs.make_env("CartPole-v1", seed=0)
    env.reset(seed=0)
    terminated = truncated = False
    steps = 0
    while not (terminated or truncated):  # always pushing right topples the pole
        _, _, terminated, truncated, _ = env.step(1)
        steps += 1
    assert terminated and not truncated and steps < 500


def test_td_target_masks_only_terminations():
    rewards = np.array([1.0, 1.0, 1.0])
    next_q = np.array([[2.0, 3.0], [2.0, 3.0], [2.0, 3.0]])
    # Row 0: ordinary step; row 1: terminated (pole fell); row 2: truncated by the clock,
    # stored with terminated=0, so it bootstraps like row 0.
    terminated = np.array([0.0, 1.0, 0.0])
    y = dqn_scratch.td_target(rewards, terminated, None, next_q, 0.9).numpy()
    np.testing.assert_allclose(y, [1 + 0.9 * 3, 1.0, 1 + 0.9 * 3], rtol=1e-6)
    # The old-Gym bug masks with `done`, which is 1 for the truncated row too.
    done = np.array([0.0, 1.0, 1.0])
    buggy = dqn_scratch.td_target(rewards, done, None, next_q, 0.9).numpy()
    assert buggy[2] == pytest.approx(1.0) and y[2] == pytest.approx(3.7)


def test_double_dqn_target_lets_the_online_network_choose():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=32)
    terminated = (rng.random(32) < 0.3).astype(float)
    q_online, q_target = rng.normal(size=(32, 3)), rng.normal(size=(32, 3))
    ours = dqn_scratch.double_dqn_target(rewards, terminated, q_online, q_target, 0.99).numpy()
    chosen = q_target[np.arange(32), np.argmax(q_online, axis=-1)]
    np.testing.assert_allclose(ours, rewards + 0.99 * (1 - terminated) * chosen, rtol=1e-5)
    plain = dqn_scratch.td_target(rewards, terminated, q_online, q_target, 0.99).numpy()
    assert np.all(plain >= ours - 1e-6)  # max is an upper bound: DQN overestimates
    assert not np.allclose(plain, ours)


def test_double_dqn_exercise_rejects_plain_dqn_and_missing_mask():
    def plain(r, t, q_online, q_target, gamma):
        return r + gamma * (1 - t) * np.max(q_target, axis=-1)

    def unmasked(r, t, q_online, q_target, gamma):
        best = np.argmax(q_online, axis=-1)
        return r + gamma * q_target[np.arange(len(r)), best]

    with pytest.raises(AssertionError, match="plain DQN"):
        exercises.check("07.double_dqn_target", plain)
    with pytest.raises(AssertionError, match="terminated"):
        exercises.check("07.double_dqn_target", unmasked)
    with pytest.raises(NotImplementedError, match="still the stub"):
        exercises.check(
            "07.double_dqn_target", lambda *a: (_ for _ in ()).throw(NotImplementedError)
        )


def test_double_dqn_exercise_trains_with_the_answer_and_wants_tensorflow_ops():
    def numpy_only(r, t, q_online, q_target, gamma):  # right numbers, but not traceable
        r, t, q_online, q_target = (np.asarray(a, float) for a in (r, t, q_online, q_target))
        best = np.argmax(q_online, axis=-1)
        return r + gamma * (1 - t) * q_target[np.arange(len(r)), best]

    with pytest.raises(AssertionError, match="TensorFlow ops"):
        exercises.check("07.double_dqn_target", numpy_only)


def test_losses():
    errors = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    huber = dqn_scratch.elementwise_loss(errors, "huber").numpy()
    np.testing.assert_allclose(huber, [2.5, 0.125, 0.0, 0.125, 2.5])
    np.testing.assert_allclose(dqn_scratch.elementwise_loss(errors, "squared").numpy(), errors**2)
    with pytest.raises(ValueError, match="loss must be"):
        dqn_scratch.elementwise_loss(errors, "l1")


# --- networks, train step and sync -----------------------------------------------------------


def tiny_agent(**changes):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    settings = dqn_scratch.COURSE.replace(
        hidden_layers=(16,), observation_scale=None, learning_rate=1e-2, **changes
    )
    return dqn_scratch.DQNAgent(settings, observation_size=3, num_actions=2)


def fixed_batch():
    rng = np.random.default_rng(0)
    return dqn_scratch.Batch(
        observations=rng.normal(size=(32, 3)).astype(np.float32),
        actions=rng.integers(0, 2, 32).astype(np.int32),
        rewards=rng.normal(size=32).astype(np.float32),
        next_observations=rng.normal(size=(32, 3)).astype(np.float32),
        terminated=np.ones(32, np.float32),  # targets are the rewards: a fixed regression
    )


@pytest.mark.parametrize("loss", dqn_scratch.LOSSES)
def test_train_step_reduces_the_loss_on_a_fixed_problem(loss):
    agent = tiny_agent(loss=loss, target_update_period=1000)
    batch = fixed_batch()
    first = float(agent.train(batch))
    for _ in range(150):
        last = float(agent.train(batch))
    assert last < 0.25 * first, (first, last)
    assert agent.train_steps == 151


def test_target_network_is_synced_every_c_steps():
    agent = tiny_agent(target_update_period=5, target_update_tau=1.0)  # a hard sync
    batch = fixed_batch()

    def same():
        pairs = zip(agent.q_network.get_weights(), agent.target_network.get_weights(), strict=True)
        return all(np.array_equal(a, b) for a, b in pairs)

    assert same()  # a fresh target starts as a copy
    for _ in range(4):
        agent.train(batch)
    assert not same()  # the online network moved, the target did not
    frozen = [w.copy() for w in agent.target_network.get_weights()]
    agent.train(batch)  # the 5th train step syncs
    assert same()
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(frozen, agent.target_network.get_weights(), strict=True)
    )


@pytest.mark.parametrize("period", [1, 3])
def test_a_soft_update_moves_the_target_tau_of_the_way(period):
    agent = tiny_agent(target_update_period=period, target_update_tau=0.25)
    batch = fixed_batch()
    for step in range(1, 2 * period + 1):
        before = [w.copy() for w in agent.target_network.get_weights()]
        agent.train(batch)
        online, after = agent.q_network.get_weights(), agent.target_network.get_weights()
        if step % period:  # not an update step: the target stays
            assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
            continue
        for old, new, trained in zip(before, after, online, strict=True):
            np.testing.assert_allclose(new, 0.75 * old + 0.25 * trained, rtol=1e-5, atol=1e-6)
        assert not all(np.allclose(a, b) for a, b in zip(after, online, strict=True))


def test_target_update_tau_must_be_in_0_1():
    for tau in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="target_update_tau"):
            dqn_scratch.COURSE.replace(target_update_tau=tau)
        with pytest.raises(ValueError, match="target_update_tau"):
            dqn.COURSE.replace(target_update_tau=tau)


def test_the_learner_trains_and_the_agent_also_acts():
    settings = dqn_scratch.COURSE.replace(hidden_layers=(8,), observation_scale=None)
    learner = dqn_scratch.DQNLearner(settings, 3, 2)
    assert float(learner.train(fixed_batch())) >= 0 and learner.train_steps == 1
    assert not hasattr(learner, "act")
    agent = tiny_agent()
    assert isinstance(agent, dqn_scratch.DQNLearner)
    observations = np.zeros((4, 3), np.float32)
    assert agent.greedy_actions(observations).shape == (4,)
    assert agent.greedy_action(observations[0]) == int(agent.greedy_actions(observations)[0])


def test_q_network_shapes_and_scaling():
    net = dqn_scratch.make_q_network(4, 2, (8, 8), observation_scale=(2.4, 3.0, 0.21, 3.0))
    assert net(np.zeros((5, 4), np.float32)).shape == (5, 2)
    with pytest.raises(ValueError, match="observation_scale has 2 entries"):
        dqn_scratch.make_q_network(4, 2, (8,), observation_scale=(1.0, 2.0))


# --- evaluation, settings, a short run -------------------------------------------------------


def lean(observations):
    return (observations[:, 2] + 0.5 * observations[:, 3] > 0).astype(int)


def test_greedy_checks_play_every_episode_in_batches():
    games = [envs.make_env("CartPole-v1", seed=i) for i in range(3)]
    result = evaluate_gym(games, lean, 7)
    assert result.complete and result.episodes == 7 and len(result.returns) == 7
    assert result.mean > 100  # the hand-written lean policy of notebook 01


def test_greedy_checks_stop_when_target_is_out_of_reach():
    games = [envs.make_env("CartPole-v1", seed=i) for i in range(10)]
    always_right = lambda obs: np.ones(len(obs), int)  # noqa: E731
    result = evaluate_gym(games, always_right, 10, **dqn_scratch.COURSE.stop_early)
    assert not result.complete and result.episodes < 10 and result.mean < 50
    with pytest.raises(ValueError, match="both"):
        evaluate_gym(games, always_right, 10, target=475)


def test_notebook_07_uses_the_settings_of_notebook_03():
    """Notebook 07 says it trains with notebook 03's settings: every shared name is equal."""
    from utils.agents import dqn

    scratch = {f.name for f in dataclasses.fields(dqn_scratch.ScratchSettings)}
    shared = scratch & {f.name for f in dataclasses.fields(dqn.DqnSettings)}
    assert len(shared) >= 21  # one vocabulary: the same names for the same things
    differ = {n: (getattr(dqn.COURSE, n), getattr(dqn_scratch.COURSE, n)) for n in shared}
    differ = {n: pair for n, pair in differ.items() if pair[0] != pair[1]}
    assert differ == {}
    own = scratch - shared
    assert own == {"double", "max_env_steps"}, "named differently in 03?"


@pytest.mark.filterwarnings("ignore:.*out of date")
def test_settings_validation_and_env_errors():
    with pytest.raises(ValueError, match="gamma"):
        dqn_scratch.COURSE.replace(gamma=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        dqn_scratch.COURSE.replace(batch_size=-1)
    with pytest.raises(ValueError, match="loss"):
        dqn_scratch.COURSE.replace(loss="l1")
    with pytest.raises(ValueError, match="Did you mean 'CartPole-v1'"):
        dqn_scratch.settings_for("CartPol-v1")
    with pytest.raises(ValueError, match="discrete action space"):
        dqn_scratch.settings_for("Pendulum-v1")
    v0 = dqn_scratch.settings_for("CartPole-v0")
    assert (v0.target_return, v0.max_episode_return) == (195.0, 200.0)
    acrobot = dqn_scratch.settings_for("Acrobot-v1")
    assert acrobot.observation_scale is None and acrobot.max_episode_return is None


SHORT = dict(
    hidden_layers=(16,),
    max_env_steps=500,
    initial_collect_steps=200,
    collect_steps_per_iteration=100,
    train_steps_per_iteration=10,
)


def test_training_uses_the_pieces_it_is_given(monkeypatch):
    """The loop looks its pieces up when it runs: a replaced rule or buffer trains."""
    calls = []

    def rule(rewards, terminated, next_q_online, next_q_target, gamma):
        calls.append("rule")  # runs when the train step is traced
        return dqn_scratch.td_target(rewards, terminated, next_q_online, next_q_target, gamma)

    class Buffer(dqn_scratch.ReplayBuffer):
        def add(self, *transition):
            calls.append("add")
            super().add(*transition)

    monkeypatch.setattr(dqn_scratch, "ReplayBuffer", Buffer)  # as a notebook re-runs a cell
    settings = dqn_scratch.settings_for("CartPole-v1", **SHORT)
    agent, _ = dqn_scratch.train(settings, seed=0, progress=False, target_rule=rule)
    assert agent.target_rule is rule
    assert calls.count("rule") >= 1 and calls.count("add") == 500
    _, double = dqn_scratch.train(settings.replace(double=True), seed=0, progress=False)
    assert double.env_steps == 500  # double=True picks double_dqn_target by itself


def test_build_run_builds_the_parts_of_one_run():
    settings = dqn_scratch.settings_for("CartPole-v1", **SHORT)
    history = dqn_scratch.ScratchHistory()
    rule = dqn_scratch.double_dqn_target
    agent, buffer, check, play = dqn_scratch.build_run(
        settings, history, 0.0, seed=1, target_rule=rule
    )
    assert isinstance(agent, dqn_scratch.DQNAgent) and agent.target_rule is rule
    assert isinstance(buffer, dqn_scratch.ReplayBuffer) and len(buffer) == 0
    assert play.buffer is buffer and play.agent is agent and play.env_steps == 0
    assert check.history is history
    with pytest.raises(TypeError, match="target_rul"):
        dqn_scratch.train(settings, seed=0, progress=False, target_rul=rule)  # a typo


def test_a_seed_repeats_its_run():
    settings = dqn_scratch.settings_for("CartPole-v1", **SHORT)
    _, first = dqn_scratch.train(settings, seed=2, progress=False)
    _, again = dqn_scratch.train(settings, seed=2, progress=False)
    assert first.losses == again.losses and first.episode_returns == again.episode_returns
    assert first.eval_returns == again.eval_returns


@pytest.mark.parametrize("bootstrap", [True, False])
def test_a_short_training_run_records_its_history(bootstrap):
    settings = dqn_scratch.settings_for(
        "CartPole-v1",
        hidden_layers=(16,),
        max_env_steps=500,
        initial_collect_steps=200,
        collect_steps_per_iteration=100,
        train_steps_per_iteration=10,
        time_limit_truncates=bootstrap,
    )
    agent, history = dqn_scratch.train(settings, seed=0, progress=False)
    assert history.env_steps == 500 and history.train_steps == 30 == agent.train_steps
    assert len(history.eval_returns) == 3 == len(history.losses)
    assert history.eval_epsilons[0] > history.eval_epsilons[-1]
    assert len(history.eval_start_values) == 3
    assert all(np.isfinite(v) for v in history.eval_start_values)
    assert sum(history.episode_returns) <= 500 and not history.solved
    assert "not solved after 500" in history.summary()


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda e: abs(e), "absolute error"),
        (lambda e: dqn_scratch.elementwise_loss(e, "huber"), "Huber loss"),
        (lambda e: dqn_scratch.tf.reduce_mean(dqn_scratch.tf.square(e)), "one loss per error"),
        (lambda e: 2.0 * e, "squared loss is"),
    ],
)
def test_squared_loss_exercise_names_the_plausible_wrong_answers(answer, message):
    with pytest.raises(AssertionError, match=message):
        exercises.check("07.squared_loss", answer)
