"""Reference solutions to the notebook exercises, and a checker for your own answers.

In a notebook, write your answer in the exercise cell, then run
``exercises.check("01.lean_policy", lean_policy)``. The tests run every reference solution
through the same checker, so a solution that stops working fails the test suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from utils.agents import actor_critic, dqn_scratch
from utils.infra.runtime import LazyModule
from utils.rl.training import check_between

tf = LazyModule("tensorflow")  # imported at first use, after the notebook's setup cell

# --- reference solutions ---------------------------------------------------------------


def random_episode_return(env, seed: int = 0) -> float:
    """Notebook 00: one episode of a Gymnasium env with random actions; return its total reward."""
    env.action_space.seed(seed)
    env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        total += reward
        done = terminated or truncated
    return total


def lean_policy(observation) -> int:
    """Notebook 01: push the cart the way the pole is falling (angle plus angular velocity)."""
    _, _, angle, angular_velocity = np.asarray(observation, dtype=float)
    return int(angle + 0.5 * angular_velocity > 0)


def sarsa_target(q, reward, next_state, next_action, terminated, gamma):
    """Notebook 02: SARSA's TD target rates the action taken next, not the best one."""
    if terminated:
        return reward
    return reward + gamma * q[next_state][next_action]


def squared_loss(errors):
    """Notebook 07: the squared TD error of each transition, with no guard against large ones."""
    return tf.square(errors)


def linear_epsilon(
    step: int, start: float = 1.0, end: float = 0.04, decay_steps: int = 1000
) -> float:
    """Notebook 03: epsilon falls linearly from ``start`` to ``end`` over ``decay_steps``."""
    fraction = min(max(step, 0), decay_steps) / decay_steps
    return start + fraction * (end - start)


def semi_implicit_step(state, action):
    """Notebook 09: Gym CartPole's semi-implicit Euler transition in TF ops, for a batch [B, 4]."""
    import tensorflow as tf

    from utils.envs import tf_cartpole as cp

    x, x_dot, theta, theta_dot = tf.unstack(state, axis=-1)
    force = tf.cast(tf.where(tf.equal(action, 1), cp.FORCE_MAG, -cp.FORCE_MAG), state.dtype)
    costheta, sintheta = tf.cos(theta), tf.sin(theta)
    temp = (force + cp.POLEMASS_LENGTH * theta_dot**2 * sintheta) / cp.TOTAL_MASS
    thetaacc = (cp.GRAVITY * sintheta - costheta * temp) / (
        cp.LENGTH * (4.0 / 3.0 - cp.MASS_POLE * costheta**2 / cp.TOTAL_MASS)
    )
    xacc = temp - cp.POLEMASS_LENGTH * thetaacc * costheta / cp.TOTAL_MASS
    x_dot = x_dot + cp.TAU * xacc  # speeds first ...
    x = x + cp.TAU * x_dot  # ... then move with the new speeds
    theta_dot = theta_dot + cp.TAU * thetaacc
    theta = theta + cp.TAU * theta_dot
    terminated = (tf.abs(x) > cp.X_THRESHOLD) | (tf.abs(theta) > cp.THETA_THRESHOLD)
    return tf.stack([x, x_dot, theta, theta_dot], axis=-1), terminated


def bootstrapped_returns(
    rewards: Sequence[float], gamma: float, last_value: float = 0.0
) -> np.ndarray:
    """Discounted returns of an episode that may have been cut off by a time limit.

    ``last_value`` is the critic's estimate of the state where the episode stopped: 0 when it
    truly ended (the pole fell), V(s_T) when the clock cut it off. G_t = r_t + gamma * G_{t+1},
    with G_T = last_value. Not normalised.
    """
    gamma = check_between("gamma", gamma, 0.0, 1.0)
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim != 1 or rewards.size == 0:
        raise ValueError("rewards must be a non-empty 1-D sequence (one episode).")
    returns = np.empty_like(rewards)
    running = float(last_value)
    for t in range(rewards.size - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def observation_first_critic(settings, observation_spec, action_spec):
    """A critic whose observation passes through its own layer of 64 units before meeting the
    action, then two joint layers of 64 units (the DDPG paper's design, smaller)."""
    from tf_agents.agents.ddpg import critic_network

    return critic_network.CriticNetwork(
        (observation_spec, action_spec),
        observation_fc_layer_params=(64,),
        joint_fc_layer_params=(64, 64),
        kernel_initializer="glorot_uniform",
        last_kernel_initializer="glorot_uniform",
    )


def one_draw_ahead(settings, samples_per_insert):
    """Notebook 12: a rate limiter that lets the learner get at most one draw ahead of the
    ratio, and the actors at most four rounds."""
    import reverb

    start = settings.initial_collect_steps * samples_per_insert  # the gap when sampling starts
    learner_ahead = settings.sample_size  # samples
    actors_ahead = 4 * settings.collect_steps_per_iteration * samples_per_insert
    return reverb.rate_limiters.SampleToInsertRatio(
        samples_per_insert,
        settings.initial_collect_steps,
        error_buffer=(start - learner_ahead, start + actors_ahead),
    )


SOLUTIONS: dict[str, Callable] = {
    "00.random_episode_return": random_episode_return,
    "01.lean_policy": lean_policy,
    "02.sarsa_target": sarsa_target,
    "03.linear_epsilon": linear_epsilon,
    "07.double_dqn_target": dqn_scratch.double_dqn_target,
    "07.squared_loss": squared_loss,
    "08.bootstrapped_returns": bootstrapped_returns,
    "09.semi_implicit_step": semi_implicit_step,
    "10.observation_first_critic": observation_first_critic,
    "11.actor_critic_parts": actor_critic.ac_parts,
    "12.one_draw_ahead": one_draw_ahead,
}


# --- checks ----------------------------------------------------------------------------


def _gym_episode(env, policy: Callable, seed: int) -> float:
    """One episode of ``policy`` in a gym 0.23 env (notebook 01's CartPole, as suite_gym loads)."""
    observation = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        observation, reward, done, _ = env.step(policy(observation))
        total += reward
    return total


def _check_random_episode_return(func: Callable) -> str:
    import gymnasium

    class Recorder(gymnasium.Wrapper):  # keeps every action the answer plays
        def __init__(self, env):
            super().__init__(env)
            self.actions: list[int] = []

        def step(self, action):
            self.actions.append(int(action))
            return self.env.step(action)

    env = Recorder(gymnasium.make("CartPole-v1"))
    returns = [float(func(env, seed=s)) for s in range(20)]
    if not all(8 <= r <= 500 for r in returns):
        raise AssertionError(f"CartPole-v1 returns lie between 8 and 500; got {returns}.")
    if len(set(returns)) == 1:
        raise AssertionError("Every episode returned the same total: are the actions random?")
    if sum(returns) != len(env.actions):
        raise AssertionError(
            f"The 20 episodes returned {sum(returns):.0f} in all but took {len(env.actions)} "
            "steps: CartPole pays 1 per step, so play each episode in the env you were given, "
            "to its end, and add up its rewards."
        )
    right = float(np.mean(env.actions))
    if not 0.35 <= right <= 0.65:
        raise AssertionError(
            f"{right:.0%} of the actions pushed right: a random agent picks each action with "
            "equal chance. Use env.action_space.sample()."
        )
    env.actions = []
    again = [float(func(env, seed=3)) for _ in range(2)]
    first, second = env.actions[: len(env.actions) // 2], env.actions[len(env.actions) // 2 :]
    if again[0] != again[1] or first != second:
        raise AssertionError(
            "Two episodes with seed=3 played differently: seed both the environment "
            "(env.reset(seed=seed)) and the action sampler (env.action_space.seed(seed))."
        )
    return f"mean return of 20 random episodes: {np.mean(returns):.1f}; seed=3 repeats exactly"


def _check_lean_policy(func: Callable) -> str:
    import gym

    env = gym.make("CartPole-v1")
    returns = [_gym_episode(env, func, seed=s) for s in range(20)]
    mean = float(np.mean(returns))
    if mean < 100:
        raise AssertionError(
            f"Average return {mean:.1f} over 20 episodes; aim for at least 100. "
            "Hint: the angular velocity tells you where the pole is about to fall."
        )
    return f"average return over 20 episodes: {mean:.1f}"


# The maze settings notebook 02 starts with (its MAZE): the SARSA check trains with them.
MAZE_SETTINGS = {
    "episodes": 300,
    "alpha": 0.5,
    "gamma": 0.99,
    "epsilon_start": 1.0,
    "epsilon_end": 0.05,
    "epsilon_decay": 0.98,
}


def _check_sarsa_target(func: Callable) -> str:
    from utils.agents import q_table  # imports the maze (and TF-Agents) only when checked
    from utils.envs import gridworld

    q = q_table.new_q_table(3)
    q["s"] = np.array([1.0, 4.0, 2.0])  # the best next action (1) is not always the one taken
    gamma = 0.9
    cases = [  # reward, next action, terminated, SARSA's target
        (-1.0, 0, False, -1.0 + 0.9 * 1.0),
        (-1.0, 2, False, -1.0 + 0.9 * 2.0),
        (0.5, 1, False, 0.5 + 0.9 * 4.0),
        (10.0, 0, True, 10.0),
    ]
    for reward, next_action, terminated, expected in cases:
        got = float(func(q, reward, "s", next_action, terminated, gamma))
        if terminated and got != reward:
            raise AssertionError(
                f"The episode terminated, so the target is just the reward {reward}; got {got}."
            )
        q_learning = reward + gamma * q["s"].max()
        if not terminated and next_action != 1 and np.isclose(got, q_learning):
            raise AssertionError(
                f"Got Q-learning's target {got} (the best next action). SARSA uses the "
                "value of the action taken next: q[next_state][next_action]."
            )
        if not np.isclose(got, expected):
            raise AssertionError(
                f"With reward {reward}, next action {next_action} and Q(s') = "
                f"{q['s'].tolist()}, SARSA's target is {expected}; got {got}."
            )
    maze = gridworld.GridWorld()
    task = q_table.MazeTask(maze)
    table, _ = q_table.train(task, seed=0, target_rule=func, **MAZE_SETTINGS)
    greedy = q_table.greedy_return(table, task)
    if greedy != maze.optimal_return():
        raise AssertionError(
            f"A table trained with your rule returns {greedy:+.0f} played greedily, not the "
            f"shortest path's {maze.optimal_return():+.0f}."
        )
    return (
        f"{len(cases)} targets agree, 2 where Q-learning's differs; a table trained with it for "
        f"{MAZE_SETTINGS['episodes']} episodes walks a shortest path (return {greedy:+.0f})"
    )


def _train_scratch_with(settings, what: str, ops: str = "", **piece):
    """Train notebook 07's DQN with the learner's ``piece``; it must solve the task."""
    try:
        _, history = dqn_scratch.train(settings, seed=0, progress=False, **piece)
    except Exception as err:  # e.g. NumPy calls on the symbolic tensors of the traced step
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise AssertionError(
            f"Your {what} gives the right numbers but fails inside the compiled train step, "
            f"where it receives TensorFlow tensors: write it with TensorFlow ops{ops}. "
            f"The error was: {first}"
        ) from None
    if not history.solved:
        raise AssertionError(
            f"An agent trained with your {what} did not solve CartPole-v1: {history.summary()}"
        )
    return history


def _check_squared_loss(func: Callable) -> str:
    errors = np.array([-3.0, -0.5, 0.0, 0.5, 2.0], np.float32)
    got = np.asarray(func(tf.constant(errors)), dtype=float)
    if got.shape != errors.shape:
        raise AssertionError(
            f"Expected one loss per error, shape {errors.shape}; got shape {got.shape}. "
            "Return the loss of each error: dqn_loss takes the mean itself."
        )
    absolute = np.abs(errors)
    huber = np.where(absolute <= 1, 0.5 * errors**2, absolute - 0.5)
    for wrong, name in ((absolute, "absolute error |e|"), (huber, "Huber loss")):
        if np.allclose(got, wrong):
            raise AssertionError(f"That is the {name}; the squared loss is e ** 2 for each error.")
    if not (np.allclose(got, errors**2) or np.allclose(got, 0.5 * errors**2)):
        raise AssertionError(
            f"For errors {errors.tolist()} the squared loss is {(errors**2).tolist()} "
            f"(or half of it); got {got.round(4).tolist()}."
        )
    # Now it trains: no Huber loss and no gradient clipping, the course's other settings.
    settings = dqn_scratch.COURSE.replace(gradient_clipping=None)
    history = _train_scratch_with(settings, "loss", loss_rule=func)
    return (
        f"the squared errors agree; with it and no gradient clipping an agent solved "
        f"CartPole-v1 after {history.env_steps_to_solve:,} environment steps, its largest "
        f"loss {max(history.losses):.3g}"
    )


def _check_linear_epsilon(func: Callable) -> str:
    cases = [  # (step, start, end, decay_steps) -> expected
        ((0, 1.0, 0.04, 1000), 1.0),
        ((500, 1.0, 0.04, 1000), 0.52),
        ((1000, 1.0, 0.04, 1000), 0.04),
        ((5000, 1.0, 0.04, 1000), 0.04),
        ((50, 0.5, 0.1, 100), 0.3),
    ]
    for args, expected in cases:
        got = float(func(*args))
        if abs(got - expected) > 1e-6:
            raise AssertionError(f"linear_epsilon{args} should be {expected}, got {got}.")
    return f"{len(cases)} cases agree"


def _check_double_dqn_target(func: Callable) -> str:
    rewards = np.array([1.0, 1.0, 0.5, 1.0])
    terminated = np.array([0.0, 0.0, 0.0, 1.0])
    # In rows 0-2 the online and target networks disagree on the best next action.
    next_q_online = np.array([[2.0, 5.0, 1.0], [3.0, 1.0, 0.0], [0.0, 0.0, 9.0], [4.0, 1.0, 2.0]])
    next_q_target = np.array([[6.0, 3.0, 4.0], [2.0, 7.0, 1.0], [1.0, 8.0, 2.0], [5.0, 6.0, 7.0]])
    gamma = 0.9
    expected = np.array([1.0 + 0.9 * 3.0, 1.0 + 0.9 * 2.0, 0.5 + 0.9 * 2.0, 1.0])
    plain_dqn = rewards + gamma * (1 - terminated) * next_q_target.max(axis=-1)
    got = np.asarray(func(rewards, terminated, next_q_online, next_q_target, gamma), dtype=float)
    if got.shape != expected.shape:
        raise AssertionError(
            f"Expected one target per transition {expected.shape}, got {got.shape}."
        )
    if np.allclose(got, plain_dqn, atol=1e-5):
        raise AssertionError(
            f"Got the plain DQN targets {plain_dqn.tolist()}. Double DQN picks a' with the "
            "online network (argmax of next_q_online) and rates it with the target network."
        )
    if not np.allclose(got[3], rewards[3], atol=1e-5):
        raise AssertionError(
            f"The last transition terminated, so its target is just its reward {rewards[3]}; "
            f"got {got[3]}. Multiply the bootstrap term by (1 - terminated)."
        )
    if not np.allclose(got, expected, atol=1e-5):
        raise AssertionError(
            f"Double DQN targets should be {expected.tolist()}, got {got.tolist()}."
        )
    # Now the rule trains: an agent with the course's settings must solve CartPole with it.
    ops = " (tf.argmax, tf.gather, ...)"
    history = _train_scratch_with(dqn_scratch.COURSE, "rule", ops, target_rule=func)
    return (
        f"{len(expected)} transitions agree, 3 where plain DQN differs; an agent trained with "
        f"it solved CartPole-v1 ({history.solved_return:.1f} over {history.solved_episodes} "
        f"episodes) after {history.env_steps_to_solve:,} environment steps"
    )


def _check_semi_implicit_step(func: Callable) -> str:
    import gym
    import tensorflow as tf

    env = gym.make("CartPole-v1").unwrapped
    env.kinematics_integrator = "semi-implicit euler"
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    states = rng.uniform([-2.6, -3, -0.25, -3.5], [2.6, 3, 0.25, 3.5], size=(500, 4))
    actions = rng.integers(0, 2, size=500)
    expected, dones = [], []
    for state, action in zip(states, actions, strict=True):
        env.state, env.steps_beyond_done = tuple(state), None
        _, _, done, _ = env.step(int(action))
        expected.append(env.state)
        dones.append(done)
    got_state, got_done = func(tf.constant(states), tf.constant(actions))
    got_state = np.asarray(got_state)
    error = float(np.abs(got_state - np.array(expected)).max())
    # Gym computes in float64; float32 carries about 7 digits, so it agrees to about 1e-6.
    tolerance = 1e-4 if got_state.dtype == np.float32 else 1e-9
    if error > 1e-4:
        raise AssertionError(
            f"Next states differ from Gym's by up to {error:.3g}. Hint: update x_dot and "
            "theta_dot first, then x and theta with the new speeds."
        )
    if error > tolerance:
        raise AssertionError(
            f"Next states differ from Gym's by up to {error:.3g}, more than float64 rounding: "
            "compute in the states' own dtype (float64 here), e.g. cast constants with "
            "tf.cast(..., state.dtype)."
        )
    wrong = int(np.sum(np.asarray(got_done) != np.array(dones)))
    if wrong:
        raise AssertionError(f"The termination flag differs from Gym's on {wrong} of 500 states.")
    precision = "float32, within 1e-4" if got_state.dtype == np.float32 else "float64"
    return f"500 random transitions agree with Gym ({precision})"


# The bootstrapped-returns check trains the notebook's actor-critic; an answer that does not
# learn gives up after this many training episodes (the reference solves in far fewer).
BOOTSTRAP_MAX_EPISODES = 600


def _bootstrap_mistake(func: Callable) -> str | None:
    """A one-line hint if the answer makes a plausible mistake on one small episode, else None."""
    rewards, gamma, last_value = np.array([1.0, 2.0, 3.0]), 0.5, 8.0
    right = bootstrapped_returns(rewards, gamma, last_value)
    got = np.asarray(func(rewards.copy(), gamma, last_value), dtype=float)
    if got.shape != right.shape or np.allclose(got, right):
        return None
    plain = bootstrapped_returns(rewards, gamma, 0.0)
    steps_to_end = np.arange(rewards.size - 1, -1, -1)  # T - 1 - t
    mistakes = [
        (
            plain,
            "Your returns ignore last_value: start the backward sum at G_T = last_value, not 0.",
        ),
        (
            plain + gamma**steps_to_end * last_value,
            "last_value is the return after the last step, so discount it like a later "
            "reward: G_{T-1} = r_{T-1} + gamma * last_value.",
        ),
        (
            (right - right.mean()) / right.std(),
            "Your returns are normalised: return the plain discounted sums (the training "
            "normalises them itself).",
        ),
        (
            bootstrapped_returns(rewards, 1.0, last_value),
            "Your returns are not discounted: G_t = r_t + gamma * G_{t+1}, gamma at every step.",
        ),
    ]
    for wrong, hint in mistakes:
        if np.allclose(got, wrong, atol=1e-6):
            return f"rewards={rewards.tolist()}, gamma={gamma}, last_value={last_value}: {hint}"
    return None


def _train_with_bootstrapped_returns(func: Callable):
    """Train notebook 08's actor-critic with ``func`` for the returns; return its history and
    how many training episodes the time limit cut off (they bootstrap with 1 / (1 - gamma))."""
    import gymnasium
    import tensorflow as tf

    from utils.agents import actor_critic

    settings = actor_critic.ActorCriticSettings(max_episodes=BOOTSTRAP_MAX_EPISODES)
    time_limit = gymnasium.spec(settings.env_name).max_episode_steps  # 500 on CartPole-v1
    cut_off = []

    def returns_fn(rewards, gamma):
        truncated = len(rewards) >= time_limit  # the clock ended it, not the pole
        # The return of a pole that never falls, 1 + gamma + gamma^2 + ... (the notebook's
        # critic learns normalised returns, so its own V(s_T) is on another scale).
        last_value = 1.0 / (1.0 - gamma) if truncated else 0.0
        cut_off.append(truncated)
        returns = np.asarray(func(np.array(rewards), gamma, last_value), dtype=np.float64)
        if returns.std() <= 1e-6 * max(1.0, float(np.abs(returns).max())):
            return np.zeros(returns.shape, np.float32)  # all equal: no step better than another
        return ((returns - returns.mean()) / (returns.std() + 1e-8)).astype(np.float32)

    tf.keras.utils.set_random_seed(0)
    model = actor_critic.build_model(hidden_units=settings.hidden_units)
    history = actor_critic.train(model, settings, seed=0, progress=False, returns_fn=returns_fn)
    return history, sum(cut_off)


def _check_bootstrapped_returns(func: Callable) -> str:
    """Notebook 08's check: hand-worked cases and random episodes against the reference, then
    the notebook's actor-critic must solve CartPole-v1 when it trains with the answer."""
    hint = _bootstrap_mistake(func)
    if hint:
        raise AssertionError(hint)
    cases = [
        ([1.0, 1.0, 1.0], 0.5, 0.0, [1.75, 1.5, 1.0]),
        ([1.0, 1.0, 1.0], 0.5, 8.0, [2.75, 3.5, 5.0]),
        ([0.0, 0.0, 2.0], 1.0, 0.0, [2.0, 2.0, 2.0]),
        ([3.0], 0.9, 10.0, [12.0]),
    ]
    for rewards, gamma, last_value, expected in cases:
        got = np.asarray(func(rewards, gamma, last_value), dtype=float)
        if got.shape != (len(rewards),):
            raise AssertionError(
                f"For rewards={rewards} expected one return per step (shape {(len(rewards),)}), "
                f"got shape {got.shape}."
            )
        if not np.allclose(got, expected):
            hint = (
                " With last_value=0 this is the plain discounted return: work backwards from the "
                "last step."
                if last_value == 0
                else " The return after the last step is last_value: start the sum there."
            )
            raise AssertionError(
                f"rewards={rewards}, gamma={gamma}, last_value={last_value}: expected "
                f"{expected}, got {got.round(4).tolist()}.{hint}"
            )
    rng = np.random.default_rng(0)
    for _ in range(20):
        rewards = rng.normal(size=int(rng.integers(1, 50)))
        gamma, last_value = float(rng.uniform(0.5, 1.0)), float(rng.normal(scale=10))
        expected = bootstrapped_returns(rewards, gamma, last_value)
        got = np.asarray(func(rewards, gamma, last_value), dtype=float)
        if not np.allclose(got, expected, atol=1e-6):
            raise AssertionError(
                f"Random episode of {rewards.size} steps (gamma={gamma:.3f}, "
                f"last_value={last_value:.3f}) gave different returns from the reference."
            )
    # Now the returns train: the notebook's actor-critic must solve CartPole-v1 with them.
    history, cut_off = _train_with_bootstrapped_returns(func)
    if not history.solved:
        raise AssertionError(
            f"Your returns give the right numbers, but the actor-critic trained with them did "
            f"not solve CartPole-v1: {history.summary()}"
        )
    return (
        f"{len(cases) + 20} episodes match; an actor-critic trained with your returns solved "
        f"CartPole-v1 ({history.solved_return:.1f} over {history.solved_episodes} greedy "
        f"episodes) after {history.episodes_to_solve} training episodes, {cut_off} of them cut "
        f"off by the time limit and bootstrapped"
    )


def _check_observation_first_critic(func: Callable) -> str:
    """Notebook 10's check: the layer shapes on a batch, then TD3 must solve Pendulum with it."""
    from tf_agents.train.utils import spec_utils

    from utils.agents import continuous

    settings = continuous.COURSE.replace(agent="td3")
    observation_spec, action_spec, _ = spec_utils.get_tensor_specs(continuous.make_env())
    critic = func(settings, observation_spec, action_spec)
    observations, actions = tf.zeros((5, 3)), tf.zeros((5, 1))
    try:
        values, _ = critic((observations, actions))
    except Exception as err:
        raise AssertionError(
            "Your critic must take (observations, actions) and return (values, state), as "
            f"TF-Agents' CriticNetwork does; calling it on a batch failed: {err}"
        ) from None
    if tuple(values.shape) != (5,):
        raise AssertionError(
            f"A batch of 5 (observation, action) pairs must give 5 values, got {values.shape}."
        )
    kernels = [tuple(v.shape) for v in critic.trainable_variables if len(v.shape) == 2]
    if kernels[:3] != [(3, 64), (65, 64), (64, 64)]:
        raise AssertionError(
            f"Expected a layer from the 3 observation numbers to 64 units, then joint layers "
            f"from those 64 and the 1 action (65 inputs) to 64 units and from 64 to 64; the "
            f"weight matrices have shapes {kernels}."
        )
    # Now the critic trains: TD3 with the course's settings, the critic built by the answer.
    _, history = continuous.train(settings, seed=0, progress=False, critic_builder=func)
    if not history.solved:
        raise AssertionError(
            f"The critic has the right shape, but TD3 trained with it did not solve "
            f"Pendulum-v1: {history.summary()}"
        )
    return (
        f"layers {kernels}; TD3 trained with your critic solved Pendulum-v1 "
        f"({history.solved_return:.1f} over {history.solved_episodes} episodes) after "
        f"{history.env_steps_to_solve:,} environment steps"
    )


def _check_actor_critic_parts(func: Callable) -> str:
    """Notebook 11's check: a run stopped and resumed with these parts must go on exactly."""
    import tempfile

    from utils.rl.checkpoints import Checkpoints, Parts

    settings = actor_critic.ActorCriticSettings(
        hidden_units=32, max_episodes=30, eval_gate=1e9, target_return=None, max_episode_return=None
    )

    def new_model():
        tf.keras.utils.set_random_seed(0)
        return actor_critic.build_model(hidden_units=32)

    whole_model = new_model()
    whole = actor_critic.train(whole_model, settings, seed=0, progress=False)
    with tempfile.TemporaryDirectory() as folder:
        first = actor_critic.train(
            new_model(),
            settings.replace(max_episodes=15),
            seed=0,
            progress=False,
            checkpoints=Checkpoints(folder, every=5, log=None, parts_fn=func),
        )
        if not isinstance(func(*_ac_pieces()), Parts):
            raise AssertionError("Return a Parts(tf=..., attributes=..., lists=...).")
        model = new_model()  # as a new process would build it
        later = actor_critic.train(
            model,
            settings,
            seed=0,
            progress=False,
            checkpoints=Checkpoints(folder, every=5, log=None, parts_fn=func),
        )
    for episode, (got, want) in enumerate(
        zip(later.episode_returns, whole.episode_returns, strict=True), start=1
    ):
        if got != want:
            raise AssertionError(
                f"The resumed run parted from the uninterrupted one at episode {episode} (return "
                f"{got:.0f} instead of {want:.0f}; it resumed after episode "
                f"{first.iterations}): something that carries over from one episode to the "
                "next is missing from your checkpoint (the weights, the optimizer's state, a "
                "random generator?)."
            )
    same = all(
        np.array_equal(a, b)
        for a, b in zip(model.get_weights(), whole_model.get_weights(), strict=True)
    )
    if not same:
        raise AssertionError(
            "The episodes match, but the final weights differ from the uninterrupted run's: "
            "is the optimizer's state (Adam's moments) in your checkpoint?"
        )
    return (
        f"stopped after episode {first.iterations} and resumed, the run played the same "
        f"{len(whole.episode_returns) - first.iterations} episodes as an uninterrupted one and "
        "ended with the same weights"
    )


def _ac_pieces():
    """A model, optimizer, environment and generator such as ``actor_critic.train`` passes."""
    from utils import envs

    model = actor_critic.build_model(hidden_units=8)
    optimizer = tf.keras.optimizers.Adam()
    return model, optimizer, envs.make_env("CartPole-v1", seed=0), np.random.default_rng(0)


def _check_one_draw_ahead(func: Callable) -> str:
    """Serve a table with the answer's limiter; compare what the server enforces."""
    import reverb

    from utils.agents import dqn

    checked = []
    for settings, ratio in ((dqn.COURSE, 8.0), (dqn.COURSE.replace(sample_size=512), 2.0)):
        limiter = func(settings, ratio)
        if not isinstance(limiter, reverb.rate_limiters.RateLimiter):
            raise AssertionError(f"Return a Reverb rate limiter, not {type(limiter).__name__}.")
        table = reverb.Table(
            "check", reverb.selectors.Uniform(), reverb.selectors.Fifo(), 1000, limiter
        )
        server = reverb.Server([table], port=None)
        try:
            info = reverb.Client(f"localhost:{server.port}").server_info()["check"]
        finally:
            server.stop()
        got = info.rate_limiter_info
        start = settings.initial_collect_steps * ratio
        want = {
            "samples per insert": ratio,
            "size when sampling starts": settings.initial_collect_steps,
            "lowest gap (learner ahead)": start - settings.sample_size,
            "highest gap (actors ahead)": start + 4 * settings.collect_steps_per_iteration * ratio,
        }
        have = dict(
            zip(
                want,
                (got.samples_per_insert, got.min_size_to_sample, got.min_diff, got.max_diff),
                strict=True,
            )
        )
        wrong = [f"{k}: {have[k]:g}, expected {v:g}" for k, v in want.items() if have[k] != v]
        if wrong:
            raise AssertionError(
                f"With samples_per_insert={ratio:g} and sample_size={settings.sample_size}, the "
                "server enforces " + "; ".join(wrong) + ". The gap counts samples: each "
                "transition written adds samples_per_insert, each one drawn takes 1 away."
            )
        checked.append(
            f"gap {have['lowest gap (learner ahead)']:g} to {have['highest gap (actors ahead)']:g}"
        )
    return "the server enforces the margins asked for (" + "; ".join(checked) + ")"


CHECKS: dict[str, Callable[[Callable], str]] = {
    "00.random_episode_return": _check_random_episode_return,
    "01.lean_policy": _check_lean_policy,
    "02.sarsa_target": _check_sarsa_target,
    "03.linear_epsilon": _check_linear_epsilon,
    "07.double_dqn_target": _check_double_dqn_target,
    "07.squared_loss": _check_squared_loss,
    "08.bootstrapped_returns": _check_bootstrapped_returns,
    "09.semi_implicit_step": _check_semi_implicit_step,
    "10.observation_first_critic": _check_observation_first_critic,
    "11.actor_critic_parts": _check_actor_critic_parts,
    "12.one_draw_ahead": _check_one_draw_ahead,
}


def check(name: str, func: Callable) -> str:
    """Check your answer to exercise ``name``; prints and returns what was measured."""
    if name not in CHECKS:
        raise KeyError(f"No exercise called {name!r}; known: {', '.join(sorted(CHECKS))}.")
    try:
        message = CHECKS[name](func)
    except NotImplementedError:
        raise NotImplementedError(
            f"Exercise {name} is still the stub: write your answer in the cell above first."
        ) from None
    print(f"{name}: passed ({message})")
    return message
