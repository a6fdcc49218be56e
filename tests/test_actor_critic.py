"""Unit tests of utils/agents/actor_critic.py: returns, model, loss, evaluator, exercise checker."""

from __future__ import annotations

import numpy as np
import pytest

from utils.agents import actor_critic as ac

# --- returns ---------------------------------------------------------------------------


def test_discounted_returns_by_hand():
    returns = ac.discounted_returns([1.0, 2.0, 3.0], gamma=0.5, normalize=False)
    # G_2 = 3, G_1 = 2 + 0.5 * 3 = 3.5, G_0 = 1 + 0.5 * 3.5 = 2.75
    np.testing.assert_allclose(returns, [2.75, 3.5, 3.0])
    assert returns.dtype == np.float32


def test_gamma_one_sums_the_rest_and_gamma_zero_keeps_each_reward():
    np.testing.assert_allclose(
        ac.discounted_returns([1, 1, 1, 1], 1.0, normalize=False), [4, 3, 2, 1]
    )
    np.testing.assert_allclose(ac.discounted_returns([5, 0, 2], 0.0, normalize=False), [5, 0, 2])


def test_normalised_returns_have_mean_zero_and_std_one():
    returns = ac.discounted_returns(np.ones(200), 0.99)
    assert abs(returns.mean()) < 1e-5
    assert returns.std() == pytest.approx(1.0, abs=1e-4)
    # The order survives normalisation: earlier steps still have larger returns.
    assert np.all(np.diff(returns) < 0)


def test_zero_spread_is_guarded():
    for rewards in ([1.0], [0.0, 0.0, 0.0]):  # one step, or all returns equal
        returns = ac.discounted_returns(rewards, 0.99)
        assert np.all(np.isfinite(returns))
        np.testing.assert_allclose(returns, 0.0, atol=1e-6)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan"), "0.9", None])
def test_bad_gamma_is_a_clear_error(gamma):
    with pytest.raises(ValueError, match=r"gamma .* \[0, 1\]"):
        ac.discounted_returns([1.0, 1.0], gamma)


def test_empty_or_misshapen_episode_is_a_clear_error():
    with pytest.raises(ValueError, match=r"at least one reward, got shape \(0,\)"):
        ac.discounted_returns([], 0.99)
    with pytest.raises(ValueError, match=r"1-D sequence .* got shape \(2, 3\)"):
        ac.discounted_returns(np.ones((2, 3)), 0.99)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="gamma"):
        ac.ActorCriticSettings(gamma=1.2)
    with pytest.raises(ValueError, match="learning_rate"):
        ac.ActorCriticSettings(learning_rate=0)
    with pytest.raises(ValueError, match="running_reward_decay"):
        ac.ActorCriticSettings(running_reward_decay=1.0)
    assert ac.ActorCriticSettings().replace(hidden_units=32).hidden_units == 32


# --- model and loss --------------------------------------------------------------------


def test_model_shapes_and_probabilities():
    model = ac.build_model(num_inputs=4, num_actions=3, hidden_units=16)
    probs, value = model(np.zeros((5, 4), np.float32))
    assert probs.shape == (5, 3) and value.shape == (5, 1)
    np.testing.assert_allclose(probs.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert [layer.name for layer in model.layers[1:]] == ["shared", "actor", "critic"]


def test_model_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_actions"):
        ac.build_model(num_actions=0)
    with pytest.raises(ValueError, match="hidden_units"):
        ac.build_model(hidden_units=2.5)


def test_loss_on_a_hand_computed_example():
    import tensorflow as tf

    probs = tf.constant([[0.5, 0.5], [0.2, 0.8]])
    values = tf.constant([[1.0], [0.0]])
    actions = tf.constant([0, 1])
    returns = tf.constant([2.0, -3.0])
    actor, critic = ac.actor_critic_loss(probs, values, actions, returns)
    # advantages: 2 - 1 = 1 and -3 - 0 = -3
    expected_actor = -(np.log(0.5) * 1.0 + np.log(0.8) * -3.0)
    # Huber (delta 1): |error| = 1 -> 0.5 * 1^2 = 0.5; |error| = 3 -> 3 - 0.5 = 2.5
    assert float(actor) == pytest.approx(expected_actor, rel=1e-5)
    assert float(critic) == pytest.approx(3.0, rel=1e-5)


def test_actor_loss_does_not_move_the_critic():
    import tensorflow as tf

    probs = tf.Variable([[0.3, 0.7]])
    values = tf.Variable([[0.5]])
    with tf.GradientTape() as tape:
        actor, _ = ac.actor_critic_loss(probs, values, tf.constant([1]), tf.constant([2.0]))
    grad_probs, grad_values = tape.gradient(actor, [probs, values])
    assert grad_values is None  # the advantage's value is a constant for the actor
    assert grad_probs is not None


def test_one_train_step_changes_the_weights_and_returns_finite_losses():
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = ac.build_model(hidden_units=8)
    before = [w.copy() for w in model.get_weights()]
    step = ac.make_train_step(model, tf.keras.optimizers.Adam(0.01))
    observations = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    returns = ac.discounted_returns(np.ones(6), 0.99)
    actor, critic = step(observations, np.array([0, 1, 0, 1, 1, 0], np.int32), returns)
    assert np.isfinite(float(actor)) and np.isfinite(float(critic))
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))


# --- evaluation on a scripted Gymnasium-style environment ------------------------------


class ScriptedGymnasiumEnv:
    """Gymnasium-style env whose k-th episode lasts lengths[k % len] steps, paying 1 per step.

    It records the actions it receives, and pays 0 for action 1 so greediness can be checked.
    """

    def __init__(self, lengths=(3, 5, 7)):
        self.lengths, self.episode, self.t, self.actions = list(lengths), -1, 0, []

    def reset(self, seed=None):
        self.episode, self.t = self.episode + 1, 0
        return np.zeros(4, np.float32), {}

    def step(self, action):
        self.actions.append(action)
        self.t += 1
        terminated = self.t >= self.lengths[self.episode % len(self.lengths)]
        return np.zeros(4, np.float32), float(action == 0), terminated, False, {}

    def close(self):
        pass


def _left_model():
    """A model whose actor always prefers action 0 (bias +5 on action 0)."""
    model = ac.build_model(hidden_units=4)
    actor = model.get_layer("actor")
    kernel, _ = actor.get_weights()
    actor.set_weights([np.zeros_like(kernel), np.array([5.0, 0.0], np.float32)])
    return model


def test_evaluator_returns_known_returns_and_acts_greedily():
    made = []

    def make():
        made.append(ScriptedGymnasiumEnv())
        return made[-1]

    result = ac.evaluate_model(_left_model(), make, num_episodes=6, copies=2)
    assert result.complete and result.episodes == 6
    # Each copy plays episodes of 3, 5 and 7 steps (its own sequence).
    assert sorted(result.returns) == [3, 3, 5, 5, 7, 7]
    assert result.mean == pytest.approx(5.0)
    assert all(a == 0 for env in made for a in env.actions)


def test_evaluator_stops_early_when_target_is_out_of_reach():
    result = ac.evaluate_model(
        _left_model(),
        lambda: ScriptedGymnasiumEnv((3,)),
        num_episodes=10,
        copies=2,
        target=475,
        max_episode_return=500,
    )
    assert not result.complete
    assert result.episodes < 10


def test_evaluator_rejects_bad_input():
    model = _left_model()
    with pytest.raises(ValueError, match="num_episodes"):
        ac.evaluate_model(model, ScriptedGymnasiumEnv, num_episodes=0)
    with pytest.raises(ValueError, match="both"):
        ac.evaluate_model(model, ScriptedGymnasiumEnv, num_episodes=2, target=1.0)


def test_evaluator_on_cartpole_with_a_random_model():
    result = ac.evaluate_model(ac.build_model(hidden_units=8), "CartPole-v1", num_episodes=4)
    assert result.complete and result.episodes == 4
    assert all(1 <= r <= 500 for r in result.returns)


def test_play_episode_records_one_entry_per_step():
    env = ScriptedGymnasiumEnv((4,))
    observations, actions, rewards = ac.play_episode(env, _left_model(), np.random.default_rng(0))
    assert observations.shape == (4, 4) and actions.shape == (4,) and rewards.shape == (4,)


def test_training_uses_the_pieces_it_is_given():
    """Notebook 08 passes its own cells' returns and train step: they are what trains."""
    import tensorflow as tf

    calls = {"returns": 0, "steps": 0}

    def returns_fn(rewards, gamma):
        calls["returns"] += 1
        return ac.discounted_returns(rewards, gamma)

    def make_step(model, optimizer):
        step = ac.make_train_step(model, optimizer)

        def counted(*episode):
            calls["steps"] += 1
            return step(*episode)

        return counted

    tf.keras.utils.set_random_seed(0)
    settings = ac.ActorCriticSettings(max_episodes=3, hidden_units=8)
    history = ac.train(
        ac.build_model(hidden_units=8),
        settings,
        progress=False,
        returns_fn=returns_fn,
        make_step=make_step,
    )
    assert calls == {"returns": 3, "steps": 3} and len(history.episode_returns) == 3


def test_the_loop_looks_up_its_pieces_when_it_runs(monkeypatch):
    """train is a #@save cell of notebook 08: it finds play_episode by name at call time."""
    import tensorflow as tf

    played = []
    original = ac.play_episode

    def counted(*args, **kwargs):
        played.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ac, "play_episode", counted)
    tf.keras.utils.set_random_seed(0)
    settings = ac.ActorCriticSettings(max_episodes=2, hidden_units=8)
    history = ac.train(ac.build_model(hidden_units=8), settings, progress=False)
    assert played == [1, 1] and history.iterations == 2
    assert history.env_steps == sum(history.episode_returns)  # CartPole pays 1 a step


# --- the loop's bookkeeping -------------------------------------------------------------


def test_history_records_one_episode():
    history = ac.ActorCriticHistory()
    history.record_episode(np.ones(5, np.float32), 4.5, actor_loss=0.25, critic_loss=1.0)
    history.record_episode(np.ones(3, np.float32), 4.0, actor_loss=-0.5, critic_loss=2.0)
    assert history.episode_returns == [5.0, 3.0] and history.running_rewards == [4.5, 4.0]
    assert history.actor_losses == [0.25, -0.5] and history.critic_losses == [1.0, 2.0]
    assert history.env_steps == 8
    assert history.losses == [1.25, 1.5] and history.loss_env_steps == [5, 8]


def test_checks_note_the_episode_of_each_quick_check():
    history = ac.ActorCriticHistory()
    settings = ac.ActorCriticSettings(eval_episodes=3)
    check = ac.ac_checks(ac.build_model(hidden_units=8), settings, history, start=0.0)
    assert not check(120, 7)  # an untrained model: the quick check fails, no full check
    assert history.eval_at_episodes == [7] and history.eval_env_steps == [120]
    assert history.full_evals == [] and not history.solved


def test_checks_note_the_episode_and_completeness_of_each_full_check():
    history = ac.ActorCriticHistory()
    # A target any policy reaches: the quick check passes, then the full one.
    settings = ac.ActorCriticSettings(eval_episodes=2, solve_episodes=3, target_return=5.0)
    check = ac.ac_checks(ac.build_model(hidden_units=8), settings, history, start=0.0)
    assert check(40, 9)
    assert history.eval_at_episodes == [9] and history.full_eval_at_episodes == [9]
    assert history.full_eval_complete == [True] and history.full_evals[0][0] == 40


# --- watching and plotting --------------------------------------------------------------


def test_record_model_episode_traces_actions_and_why_it_ended():
    trace = {}
    frames, total = ac.record_model_episode(_left_model(), seed=0, trace=trace)
    assert len(frames) == total + 1 and len(trace["actions"]) == total
    assert set(trace["actions"].tolist()) == {0}  # the model always pushes left
    assert trace["end"].startswith("the pole fell")


class _CartPoleCore:
    x_threshold, theta_threshold_radians = 2.4, 0.2

    def __init__(self, state):
        self.state = state


class _EndedEnv:
    def __init__(self, state, limit=500):
        self.unwrapped = _CartPoleCore(state)
        self.spec = type("Spec", (), {"max_episode_steps": limit})()


@pytest.mark.parametrize(
    "state, steps, start",
    [
        ((2.5, 0, 0.1, 0), 420, "the cart left the track (position +2.500"),
        ((-0.5, 0, -0.25, 0), 8, "the pole fell (angle -14.3°"),
        ((0.1, 0, 0.01, 0), 500, "the time limit of 500 steps"),
        ((0.1, 0, 0.01, 0), 300, "it was stopped after 300 steps"),
    ],
)
def test_why_episode_ended(state, steps, start):
    assert ac.why_episode_ended(_EndedEnv(state), steps).startswith(start)


def test_draw_checks_marks_each_kind_once_in_the_legend():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    quick = [(10, 480.0, True), (20, 300.0, False), (30, 500.0, True)]
    full = [(10, 219.8, False), (30, 499.0, True)]
    ac.draw_checks(axes, quick, full, target=475, quick_episodes=10, full_episodes=100)
    lines = axes.get_lines()
    assert len(lines) == 5
    hollow = [line.get_markerfacecolor() == "none" for line in lines]
    assert hollow == [False, True, False, True, False]
    labels = axes.get_legend_handles_labels()[1]
    assert labels == [
        "quick check (10 greedy episodes)",
        "quick check (10 greedy episodes), stopped early",
        "full check failed, stopped early",
        "full check (100 episodes): solved",
    ]
    plt.close(figure)
