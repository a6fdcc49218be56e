"""Actor-critic in plain TensorFlow/Keras: returns, model, loss, training loop, fast evaluation.

Taught in notebook 06. One network with a shared hidden layer and two heads: the **actor**
(a softmax over actions, the policy) and the **critic** (an estimate of the state's value).
Trained episode by episode on Monte-Carlo returns, with the critic as a baseline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from utils.evaluation import EvalResult, evaluate_gym


@dataclass(frozen=True)
class ActorCriticSettings:
    """Every hyperparameter of an actor-critic run on CartPole. Taught in notebook 06."""

    env_name: str = "CartPole-v1"
    hidden_units: int = 128  # width of the shared hidden layer
    learning_rate: float = 0.01  # Adam's step size
    gamma: float = 0.99  # discount of future rewards
    max_episodes: int = 3000  # give up after this many training episodes
    running_reward_decay: float = 0.95  # running = decay * running + (1 - decay) * episode
    # Greedy evaluations start once the running reward reaches `eval_gate`, then run every
    # `eval_every` episodes: a quick check first, the full one only when the quick one passes.
    eval_gate: float = 300.0
    eval_every: int = 5
    eval_episodes: int = 10  # episodes of the quick check
    solve_episodes: int = 100  # episodes of the full check (Gym's rule for "solved")
    target_return: float = 475.0  # CartPole-v1 is solved at an average return of 475
    max_episode_return: float = 500.0  # the best return one episode can reach

    def __post_init__(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        for name in ("hidden_units", "max_episodes", "eval_every", "eval_episodes"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        check_gamma(self.gamma)
        if not 0.0 <= self.running_reward_decay < 1.0:
            raise ValueError(
                f"running_reward_decay must be in [0, 1), got {self.running_reward_decay!r}."
            )
        if self.solve_episodes < self.eval_episodes:
            raise ValueError("solve_episodes must be >= eval_episodes.")

    def replace(self, **changes) -> ActorCriticSettings:
        """A copy with some values changed (validated again)."""
        return dataclasses.replace(self, **changes)


def check_gamma(gamma: float) -> float:
    """Return ``gamma`` if it is a valid discount in [0, 1], else raise a clear ValueError."""
    if not isinstance(gamma, int | float | np.floating) or not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(
            f"gamma (the discount) must be a number in [0, 1], got {gamma!r}. "
            "Typical values are 0.95 to 0.999."
        )
    return float(gamma)


# --- returns ---------------------------------------------------------------------------


def discounted_returns(
    rewards: Sequence[float], gamma: float, *, normalize: bool = True, eps: float = 1e-8
) -> np.ndarray:
    """Discounted return from every step of one episode: G_t = r_t + gamma * G_{t+1}.

    With ``normalize`` the returns are shifted and scaled to mean 0 and standard deviation 1
    (``eps`` guards against dividing by zero when all returns are equal, e.g. a 1-step episode).
    """
    gamma = check_gamma(gamma)
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim != 1:
        raise ValueError(
            f"rewards must be a 1-D sequence (one episode), got shape {rewards.shape}."
        )
    if rewards.size == 0:
        raise ValueError("rewards is empty: an episode has at least one step.")
    returns = np.empty_like(rewards)
    running = 0.0
    for t in range(rewards.size - 1, -1, -1):  # backwards: G_t needs G_{t+1}
        running = rewards[t] + gamma * running
        returns[t] = running
    if normalize:
        returns = (returns - returns.mean()) / (returns.std() + eps)
    return returns.astype(np.float32)


# --- model and loss --------------------------------------------------------------------


def build_model(num_inputs: int = 4, num_actions: int = 2, hidden_units: int = 128):
    """A Keras model: one shared ReLU layer, an actor head (softmax) and a critic head (value)."""
    import tensorflow as tf

    for name, value in (("num_inputs", num_inputs), ("num_actions", num_actions)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
    if not isinstance(hidden_units, int) or hidden_units < 1:
        raise ValueError(f"hidden_units must be a whole number >= 1, got {hidden_units!r}.")
    inputs = tf.keras.layers.Input(shape=(num_inputs,), name="observation")
    common = tf.keras.layers.Dense(hidden_units, activation="relu", name="shared")(inputs)
    action_probs = tf.keras.layers.Dense(num_actions, activation="softmax", name="actor")(common)
    value = tf.keras.layers.Dense(1, name="critic")(common)
    return tf.keras.Model(inputs=inputs, outputs=[action_probs, value], name="actor_critic")


def actor_critic_loss(action_probs, values, actions, returns):
    """Return ``(actor_loss, critic_loss)``, each summed over the steps of one episode.

    ``action_probs``: (T, num_actions) softmax outputs; ``values``: (T,) or (T, 1) critic
    outputs; ``actions``: (T,) actions taken; ``returns``: (T,) (normalised) returns.
    The actor loss is -log pi(a_t|s_t) * advantage_t, with advantage = return - value; the
    critic's value is a constant there (``stop_gradient``): the actor must not move the critic.
    The critic loss is the Huber loss between value and return.
    """
    import tensorflow as tf

    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    returns = tf.reshape(tf.cast(returns, tf.float32), [-1])
    actions = tf.reshape(tf.cast(actions, tf.int32), [-1])
    taken = tf.gather(action_probs, actions, axis=1, batch_dims=1)  # pi(a_t | s_t)
    log_probs = tf.math.log(tf.maximum(taken, 1e-8))
    advantages = returns - tf.stop_gradient(values)
    actor_loss = -tf.reduce_sum(log_probs * advantages)
    huber = tf.keras.losses.Huber(reduction=tf.keras.losses.Reduction.SUM)
    critic_loss = huber(returns[:, None], values[:, None])
    return actor_loss, critic_loss


# --- training --------------------------------------------------------------------------


def make_gym_env(env_name: str = "CartPole-v1", seed: int | None = None):
    """A plain Gym environment (with Gym's own step limit), seeded when ``seed`` is given."""
    import gym

    env = gym.make(env_name)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def play_episode(env, model, rng: np.random.Generator, *, greedy: bool = False, act=None):
    """Play one episode in a Gym env; return (observations, actions, rewards) as arrays.

    Actions are sampled from the actor's probabilities (or the most likely one if ``greedy``).
    ``act`` (from :func:`make_act`) is the compiled model call; built here when omitted.
    """
    act = act or make_act(model)
    observation = env.reset()
    observations, actions, rewards = [], [], []
    done = False
    while not done:
        probs = act(np.asarray(observation, np.float32)[None]).numpy()[0].astype(np.float64)
        if greedy:
            action = int(np.argmax(probs))
        else:
            action = int(rng.choice(probs.size, p=probs / probs.sum()))
        observations.append(observation)
        actions.append(action)
        observation, reward, done, _ = env.step(action)
        rewards.append(reward)
    return (
        np.asarray(observations, np.float32),
        np.asarray(actions, np.int32),
        np.asarray(rewards, np.float32),
    )


def make_act(model) -> Callable:
    """A compiled function: a batch of observations -> the actor's action probabilities."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def act(observations):
        return model(observations, training=False)[0]

    return act


def make_train_step(model, optimizer) -> Callable:
    """A compiled function that takes one gradient step on one episode; returns both losses.

    The episode's observations go through the model in one batch under the ``GradientTape``.
    The Keras example records each step's outputs on the tape while playing; the weights do not
    change during the episode, so recomputing them afterwards gives the same gradient, faster.
    """
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def train_step(observations, actions, returns):
        with tf.GradientTape() as tape:
            action_probs, values = model(observations, training=True)
            actor_loss, critic_loss = actor_critic_loss(action_probs, values, actions, returns)
            loss = actor_loss + critic_loss
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return actor_loss, critic_loss

    return train_step


@dataclass
class History:
    """What happened during :func:`train`, one entry per episode, plus the evaluations."""

    episode_returns: list[float] = field(default_factory=list)
    running_rewards: list[float] = field(default_factory=list)
    actor_losses: list[float] = field(default_factory=list)
    critic_losses: list[float] = field(default_factory=list)
    # (episode, mean return, complete) of every quick check and every full check.
    quick_evals: list[tuple[int, float, bool]] = field(default_factory=list)
    full_evals: list[tuple[int, float, bool]] = field(default_factory=list)
    solved: bool = False
    solved_return: float | None = None
    episodes_to_solve: int | None = None
    env_steps_to_solve: int | None = None
    seconds_to_solve: float | None = None
    env_steps: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: solved or not, and how fast."""
        if self.solved:
            return (
                f"solved: average return {self.solved_return:.1f} over 100 greedy episodes after "
                f"{self.episodes_to_solve} episodes ({self.env_steps_to_solve:,} environment "
                f"steps, {self.seconds_to_solve:.1f} s)"
            )
        return (
            f"not solved after {len(self.episode_returns)} episodes "
            f"({self.env_steps:,} environment steps, {self.seconds:.1f} s)"
        )


def train(model, settings: ActorCriticSettings, *, seed: int = 0, progress: bool = True):
    """Train ``model`` episode by episode; stop at the first full evaluation that passes.

    Returns a :class:`History`. The model keeps the weights that solved the task.
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    start = time.perf_counter()
    env = make_gym_env(settings.env_name, seed=seed)
    rng = np.random.default_rng(seed)
    optimizer = tf.keras.optimizers.Adam(learning_rate=settings.learning_rate)
    act = make_act(model)
    train_step = make_train_step(model, optimizer)
    history = History()
    running = 0.0
    stop_early = {
        "target": settings.target_return,
        "max_episode_return": settings.max_episode_return,
    }

    bar = tqdm(range(1, settings.max_episodes + 1), desc="actor-critic", disable=not progress)
    last_eval = "-"
    for episode in bar:
        observations, actions, rewards = play_episode(env, model, rng, act=act)
        returns = discounted_returns(rewards, settings.gamma)
        actor_loss, critic_loss = train_step(observations, actions, returns)
        episode_return = float(rewards.sum())
        decay = settings.running_reward_decay
        running = episode_return if episode == 1 else decay * running + (1 - decay) * episode_return
        history.episode_returns.append(episode_return)
        history.running_rewards.append(running)
        history.actor_losses.append(float(actor_loss))
        history.critic_losses.append(float(critic_loss))
        history.env_steps += len(rewards)

        if running >= settings.eval_gate and episode % settings.eval_every == 0:
            quick = evaluate_model(
                model, settings.env_name, settings.eval_episodes,
                seed=10_000 + episode, act=act, **stop_early,
            )  # fmt: skip
            history.quick_evals.append((episode, quick.mean, quick.complete))
            last_eval = f"{quick.mean:.0f}" + ("" if quick.complete else "*")
            if quick.reaches(settings.target_return):
                full = evaluate_model(
                    model, settings.env_name, settings.solve_episodes,
                    seed=20_000 + episode, act=act, **stop_early,
                )  # fmt: skip
                history.full_evals.append((episode, full.mean, full.complete))
                if full.reaches(settings.target_return):
                    history.solved = True
                    history.solved_return = full.mean
                    history.episodes_to_solve = episode
                    history.env_steps_to_solve = history.env_steps
                    history.seconds_to_solve = time.perf_counter() - start
                    bar.set_postfix({"running": f"{running:.0f}", "eval": "solved"})
                    break  # keep the weights that solved the task
        bar.set_postfix({"running": f"{running:.0f}", "eval": last_eval}, refresh=False)
    bar.close()
    env.close()
    history.seconds = time.perf_counter() - start
    return history


def record_model_episode(
    model, env_name: str = "CartPole-v1", *, seed: int = 0, greedy: bool = True, max_steps=1000
) -> tuple[list[np.ndarray], float]:
    """Play one episode of the model in a Gym env and return its rendered frames and return.

    ``greedy`` picks the most likely action; otherwise actions are sampled as in training.
    """
    env = make_gym_env(env_name, seed=seed)
    act = make_act(model)
    rng = np.random.default_rng(seed)
    observation = env.reset(seed=seed)
    frames = [env.render(mode="rgb_array")]
    total, done = 0.0, False
    for _ in range(max_steps):
        if done:
            break
        probs = act(np.asarray(observation, np.float32)[None]).numpy()[0].astype(np.float64)
        action = (
            int(np.argmax(probs)) if greedy else int(rng.choice(probs.size, p=probs / probs.sum()))
        )
        observation, reward, done, _ = env.step(action)
        total += float(reward)
        frames.append(env.render(mode="rgb_array"))
    env.close()
    return frames, total


# --- evaluation ------------------------------------------------------------------------


def evaluate_model(
    model,
    env_name: str | Callable = "CartPole-v1",
    num_episodes: int = 100,
    *,
    seed: int = 0,
    copies: int | None = None,
    act: Callable | None = None,
    target: float | None = None,
    max_episode_return: float | None = None,
    max_steps: int = 1_000_000,
) -> EvalResult:
    """Average return of the model's greedy policy, stepping several Gym envs with one call.

    ``env_name`` is a Gym id or a function returning a Gym-style env (reset() -> observation,
    step(a) -> (observation, reward, done, info)). ``copies`` envs (default: one per episode,
    at most 100) each play a fixed share of the episodes. With ``target`` and
    ``max_episode_return`` it stops once the target is out of reach (``complete=False``).
    """
    if not isinstance(num_episodes, int | np.integer) or num_episodes < 1:
        raise ValueError(f"num_episodes must be a whole number >= 1, got {num_episodes!r}.")
    copies = min(int(num_episodes), 100) if copies is None else int(copies)
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies!r}.")
    make = (lambda: make_gym_env(env_name)) if isinstance(env_name, str) else env_name
    act = act or make_act(model)

    def greedy(observations: np.ndarray) -> np.ndarray:  # the most likely action
        return np.argmax(act(observations).numpy(), axis=1)

    envs = [make() for _ in range(copies)]
    try:
        return evaluate_gym(
            envs,
            greedy,
            num_episodes,
            target=target,
            max_episode_return=max_episode_return,
            seed=seed,
            max_steps=max_steps,
        )
    finally:
        for env in envs:
            env.close()


# --- exercise (notebook 06) ------------------------------------------------------------


def bootstrapped_returns(
    rewards: Sequence[float], gamma: float, last_value: float = 0.0
) -> np.ndarray:
    """Discounted returns of an episode that may have been cut off by a time limit.

    ``last_value`` is the critic's estimate of the state where the episode stopped: 0 when it
    truly ended (the pole fell), V(s_T) when the clock cut it off. G_t = r_t + gamma * G_{t+1},
    with G_T = last_value. Not normalised.
    """
    gamma = check_gamma(gamma)
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim != 1 or rewards.size == 0:
        raise ValueError("rewards must be a non-empty 1-D sequence (one episode).")
    returns = np.empty_like(rewards)
    running = float(last_value)
    for t in range(rewards.size - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def check_bootstrapped_returns(func: Callable) -> str:
    """Check an answer to notebook 06's exercise against hand-worked cases and the reference."""
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
    # How much the bootstrap matters for CartPole cut off at 500 steps, gamma=0.99.
    cut = np.asarray(func(np.ones(500), 0.99, 100.0), dtype=float)
    plain = np.asarray(func(np.ones(500), 0.99, 0.0), dtype=float)
    return (
        f"24 episodes match; at a 500-step time limit, bootstrapping with V=100 raises the "
        f"last step's return from {plain[-1]:.1f} to {cut[-1]:.1f} and the first's by "
        f"{cut[0] - plain[0]:.3f}"
    )
