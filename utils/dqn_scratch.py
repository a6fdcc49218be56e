"""DQN written out in plain TensorFlow/Keras: replay buffer, networks, epsilon, TD target, loop.

Taught in notebook 05, and run from the shell by ``scripts/train_dqn.py``. It does what
TF-Agents did for us in notebook 02 (``utils/dqn.py``), with the same ideas and the same
settings (``COURSE``), and no TF-Agents at all: Gym environments are stepped directly.

Gym 0.23 reports a single ``done`` flag for two different events: the pole fell (a true
*termination*: nothing follows) or the 500-step clock ran out (a *truncation*: the episode was
cut off, the state still has a future). Its ``TimeLimit`` wrapper marks the second with
``info["TimeLimit.truncated"]``; :func:`split_done` separates the two, and only terminations
stop the TD target from bootstrapping.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from utils.envs import check_env_name
from utils.report import Stopwatch

LOSSES = ("huber", "mse")


# --- settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScratchSettings:
    """Every hyperparameter of a from-scratch DQN run. Taught in notebook 05."""

    env_name: str = "CartPole-v1"
    # The Q-network: Dense ReLU layers, then one linear output (a Q-value) per action.
    hidden_layers: tuple[int, ...] = (256, 256)
    # Divide each observation by these typical magnitudes first (None: feed it raw).
    observation_scale: tuple[float, ...] | None = (2.4, 3.0, 0.21, 3.0)
    # Learning.
    learning_rate: float = 1e-3
    gamma: float = 0.99  # discount of future rewards
    loss: str = "huber"  # TD loss: "huber" or "mse"
    target_update_period: int = 128  # train steps between target-network syncs (C)
    gradient_clipping: float | None = 10.0  # largest global gradient norm, or None
    batch_size: int = 64  # transitions per train step
    double: bool = False  # Double DQN: the online network picks a', the target one rates it
    # True: a time-limit truncation still bootstraps (correct). False: treat it as the end of
    # the world, like old Gym code that masks with `done` (the classic bug).
    bootstrap_at_time_limit: bool = True
    # Replay and data collection.
    buffer_capacity: int = 100_000
    initial_collect_steps: int = 1000  # random-policy steps before training starts
    collect_steps_per_phase: int = 256  # environment steps, then ...
    train_steps_per_phase: int = 128  # ... this many train steps
    # Exploration: epsilon falls linearly over `epsilon_decay_steps` train steps, then stays.
    epsilon_start: float = 1.0
    epsilon_end: float = 0.04
    epsilon_decay_steps: int = 1000
    # Budget and the "solved" rule.
    max_env_steps: int = 60_000  # stop here if not solved before
    max_episodes: int | None = None  # or after this many training episodes
    eval_interval: int = 1  # phases between quick evaluations
    eval_episodes: int = 10  # the quick check
    solve_episodes: int = 100  # the full check, run only when the quick one passes
    target_return: float | None = 475.0  # None: never stop early, never "solved"
    max_episode_return: float | None = 500.0  # best possible return (lets checks stop early)

    def __post_init__(self) -> None:
        positive = (
            "target_update_period",
            "batch_size",
            "buffer_capacity",
            "collect_steps_per_phase",
            "train_steps_per_phase",
            "max_env_steps",
            "eval_interval",
            "eval_episodes",
            "solve_episodes",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
        for name in ("initial_collect_steps", "epsilon_decay_steps"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}.")
        if self.max_episodes is not None and self.max_episodes < 1:
            raise ValueError(f"max_episodes must be >= 1 or None, got {self.max_episodes!r}.")
        if not self.hidden_layers or any(int(u) < 1 for u in self.hidden_layers):
            raise ValueError(f"hidden_layers must be sizes >= 1, got {self.hidden_layers!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma!r}.")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        if self.gradient_clipping is not None and not self.gradient_clipping > 0:
            raise ValueError(
                f"gradient_clipping must be > 0 or None, got {self.gradient_clipping}."
            )
        for name in ("epsilon_start", "epsilon_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}.")
        if self.observation_scale is not None and not all(s > 0 for s in self.observation_scale):
            raise ValueError(f"observation_scale must be > 0, got {self.observation_scale!r}.")
        if self.solve_episodes < self.eval_episodes:
            raise ValueError("solve_episodes must be >= eval_episodes.")
        if (self.target_return is None) and (self.max_episode_return is not None):
            raise ValueError("max_episode_return needs a target_return (or set both to None).")

    def replace(self, **changes) -> ScratchSettings:
        """A copy with some values changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def epsilon(self) -> EpsilonSchedule:
        """The exploration schedule these settings describe."""
        return EpsilonSchedule(self.epsilon_start, self.epsilon_end, self.epsilon_decay_steps)


# The settings of notebook 02 (utils.dqn.COURSE), for this implementation.
COURSE = ScratchSettings()

# CartPole's observation magnitudes: cart position, cart speed, pole angle, pole speed.
CARTPOLE_SCALE = (2.4, 3.0, 0.21, 3.0)


def settings_for(env_name: str, **changes) -> ScratchSettings:
    """``COURSE`` adapted to ``env_name``: its solve threshold, step limit and scaling."""
    import gym

    make_gym_env(env_name).close()  # a clear error for unknown ids and unsuitable spaces
    spec = gym.spec(env_name)
    cartpole = env_name.startswith("CartPole")
    adapted = {
        "env_name": env_name,
        "observation_scale": CARTPOLE_SCALE if cartpole else None,
        "target_return": spec.reward_threshold,
        # CartPole pays 1 per step, so its best return is the step limit; elsewhere unknown.
        "max_episode_return": float(spec.max_episode_steps) if cartpole else None,
    }
    if adapted["target_return"] is None:
        adapted["max_episode_return"] = None
    adapted.update(changes)
    return COURSE.replace(**adapted)


# --- environments -------------------------------------------------------------------------


def make_gym_env(name: str, seed: int | None = None):
    """A Gym environment (with its registered time limit), seeded; discrete actions only."""
    import gym

    check_env_name(name)
    env = gym.make(name)
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(
            f"{name} has {type(env.action_space).__name__} actions; DQN needs a discrete "
            "action space (e.g. CartPole-v1, Acrobot-v1, MountainCar-v0)."
        )
    shape = env.observation_space.shape
    if shape is None or len(shape) != 1:
        raise ValueError(f"{name} has observations of shape {shape}; this DQN needs vectors.")
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def split_done(done: bool, info: dict) -> tuple[bool, bool]:
    """Gym 0.23's ``done`` split into ``(terminated, truncated)`` using its TimeLimit flag."""
    truncated = bool(done and info.get("TimeLimit.truncated", False))
    return bool(done and not truncated), truncated


# --- replay buffer -------------------------------------------------------------------------


@dataclass
class Batch:
    """A minibatch of transitions (s, a, r, s', terminated), as NumPy arrays."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """The five arrays in the order the train step takes them."""
        return (
            self.observations,
            self.actions,
            self.rewards,
            self.next_observations,
            self.terminated,
        )


class ReplayBuffer:
    """A fixed-capacity ring buffer of transitions in NumPy arrays, sampled uniformly.

    When full, each new transition overwrites the oldest one. Only *terminations* are stored:
    a transition cut off by a time limit is stored with ``terminated=False``, so that its TD
    target still bootstraps from the next state.
    """

    def __init__(self, capacity: int, observation_shape: tuple[int, ...], seed: int | None = None):
        if not isinstance(capacity, int | np.integer) or capacity < 1:
            raise ValueError(f"capacity must be a whole number >= 1, got {capacity!r}.")
        shape = tuple(int(d) for d in observation_shape)
        self.capacity = int(capacity)
        self.observation_shape = shape
        self.observations = np.zeros((self.capacity, *shape), dtype=np.float32)
        self.next_observations = np.zeros((self.capacity, *shape), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int32)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.next_index = 0  # where the next transition goes
        self.size = 0  # how many slots hold a transition
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, observation, action: int, reward: float, next_observation, terminated: bool):
        """Store one transition, overwriting the oldest one when the buffer is full."""
        observation = np.asarray(observation, dtype=np.float32)
        next_observation = np.asarray(next_observation, dtype=np.float32)
        for name, value in (("observation", observation), ("next_observation", next_observation)):
            if value.shape != self.observation_shape:
                raise ValueError(
                    f"{name} has shape {value.shape}, but this buffer stores observations of "
                    f"shape {self.observation_shape}."
                )
        i = self.next_index
        self.observations[i] = observation
        self.actions[i] = int(action)
        self.rewards[i] = float(reward)
        self.next_observations[i] = next_observation
        self.terminated[i] = float(bool(terminated))
        self.next_index = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly at random (with replacement)."""
        if not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}.")
        if self.size == 0:
            raise ValueError(
                "The replay buffer is empty: add transitions (e.g. some random steps) "
                "before sampling."
            )
        idx = self.rng.integers(0, self.size, size=int(batch_size))
        return Batch(
            self.observations[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_observations[idx],
            self.terminated[idx],
        )


# --- exploration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EpsilonSchedule:
    """Epsilon after ``step`` train steps: linear from ``start`` to ``end``, then constant."""

    start: float = 1.0
    end: float = 0.04
    decay_steps: int = 1000

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"epsilon {name} must be in [0, 1], got {getattr(self, name)!r}.")
        if self.decay_steps < 0:
            raise ValueError(f"decay_steps must be >= 0, got {self.decay_steps!r}.")

    @classmethod
    def constant(cls, value: float) -> EpsilonSchedule:
        """The same epsilon at every step."""
        return cls(value, value, 0)

    def __call__(self, step: int) -> float:
        if self.decay_steps == 0:
            return float(self.end)
        fraction = min(max(step, 0), self.decay_steps) / self.decay_steps
        return float(self.start + fraction * (self.end - self.start))


# --- networks and the TD target -------------------------------------------------------------


def make_q_network(
    observation_size: int,
    num_actions: int,
    hidden_layers: tuple[int, ...] = (256, 256),
    observation_scale: tuple[float, ...] | None = None,
):
    """A Keras MLP: (optional rescaling), Dense ReLU layers, one linear Q-value per action."""
    import tensorflow as tf

    layers = [tf.keras.Input(shape=(observation_size,))]
    if observation_scale is not None:
        if len(observation_scale) != observation_size:
            raise ValueError(
                f"observation_scale has {len(observation_scale)} entries for observations of "
                f"size {observation_size}."
            )
        layers.append(tf.keras.layers.Rescaling([1.0 / s for s in observation_scale]))
    layers += [tf.keras.layers.Dense(int(units), activation="relu") for units in hidden_layers]
    layers.append(tf.keras.layers.Dense(num_actions))
    return tf.keras.Sequential(layers)


def td_target(rewards, terminated, next_q_target, gamma: float, next_q_online=None):
    """TD targets y = r + γ (1 - terminated) Q_target(s', a'), as a float32 tensor.

    Plain DQN takes a' = argmax Q_target(s', ·), i.e. the largest target Q-value. With
    ``next_q_online`` (Double DQN), a' = argmax Q_online(s', ·) and the target network rates it.
    """
    import tensorflow as tf

    rewards = tf.cast(rewards, tf.float32)
    terminated = tf.cast(terminated, tf.float32)
    next_q_target = tf.cast(next_q_target, tf.float32)
    if next_q_online is None:
        next_value = tf.reduce_max(next_q_target, axis=-1)
    else:
        best = tf.argmax(next_q_online, axis=-1, output_type=tf.int32)
        next_value = tf.gather(next_q_target, best, axis=-1, batch_dims=1)
    return rewards + gamma * (1.0 - terminated) * next_value


def elementwise_loss(errors, kind: str):
    """Huber (quadratic within ±1, linear beyond) or squared loss of TD errors."""
    import tensorflow as tf

    if kind == "mse":
        return tf.square(errors)
    if kind == "huber":
        absolute = tf.abs(errors)
        quadratic = tf.minimum(absolute, 1.0)
        return 0.5 * tf.square(quadratic) + (absolute - quadratic)
    raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}.")


class DQNAgent:
    """An online Q-network, its target copy, an optimizer and a ``tf.function`` train step."""

    def __init__(self, settings: ScratchSettings, observation_size: int, num_actions: int):
        import tensorflow as tf

        self.settings = settings
        self.num_actions = int(num_actions)

        def network():
            return make_q_network(
                observation_size, num_actions, settings.hidden_layers, settings.observation_scale
            )

        self.q_network = network()
        self.target_network = network()
        self.sync_target()
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=settings.learning_rate)
        self.optimizer.build(self.q_network.trainable_variables)
        self.train_steps = 0  # counts calls of train(); drives epsilon and the syncs
        self._train_step = tf.function(self._train_step_fn)
        self._greedy = tf.function(
            lambda obs: tf.argmax(self.q_network(obs), axis=-1, output_type=tf.int32),
            input_signature=[tf.TensorSpec([None, observation_size], tf.float32)],
        )

    def sync_target(self) -> None:
        """Copy the online network's weights into the target network."""
        self.target_network.set_weights(self.q_network.get_weights())

    def _train_step_fn(self, observations, actions, rewards, next_observations, terminated):
        import tensorflow as tf

        s = self.settings
        next_q_target = self.target_network(next_observations)
        next_q_online = self.q_network(next_observations) if s.double else None
        targets = td_target(rewards, terminated, next_q_target, s.gamma, next_q_online)
        targets = tf.stop_gradient(targets)
        with tf.GradientTape() as tape:
            q_values = self.q_network(observations, training=True)
            chosen = tf.gather(q_values, actions, axis=-1, batch_dims=1)  # Q(s, a)
            loss = tf.reduce_mean(elementwise_loss(targets - chosen, s.loss))
        variables = self.q_network.trainable_variables
        gradients = tape.gradient(loss, variables)
        if s.gradient_clipping is not None:
            gradients, _ = tf.clip_by_global_norm(gradients, s.gradient_clipping)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    def train(self, batch: Batch) -> float:
        """One gradient step on ``batch``; syncs the target every ``target_update_period``."""
        loss = self._train_step(*batch.as_tuple())
        self.train_steps += 1
        if self.train_steps % self.settings.target_update_period == 0:
            self.sync_target()
        return loss

    def greedy_actions(self, observations) -> np.ndarray:
        """The action with the largest Q-value, for a batch of observations."""
        return self._greedy(np.asarray(observations, dtype=np.float32)).numpy()

    def act(self, observation, epsilon: float, rng: np.random.Generator) -> int:
        """Epsilon-greedy: a random action with probability ``epsilon``, else the greedy one."""
        if rng.random() < epsilon:
            return int(rng.integers(self.num_actions))
        return int(self.greedy_actions(np.asarray(observation)[None])[0])


# --- evaluation ---------------------------------------------------------------------------


def evaluate_greedy(
    policy: Callable[[np.ndarray], np.ndarray],
    envs: list,
    num_episodes: int,
    *,
    target: float | None = None,
    max_episode_return: float | None = None,
):
    """Play ``num_episodes`` greedy episodes on Gym envs stepped together; an ``EvalResult``.

    ``policy`` maps a batch of observations to a batch of actions (``agent.greedy_actions``).
    Each env plays a fixed share of the episodes, so short episodes are not over-counted.
    With ``target`` and ``max_episode_return`` it stops as soon as even perfect remaining
    episodes could not lift the mean to ``target`` (the result then has ``complete=False``).
    """
    from utils.evaluation import evaluate_gym

    return evaluate_gym(
        envs, policy, num_episodes, target=target, max_episode_return=max_episode_return
    )


# --- training -------------------------------------------------------------------------------


@dataclass
class ScratchHistory:
    """What happened during :func:`train`: episodes, evaluations, losses, and the outcome."""

    # Training episodes (epsilon-greedy): return and the environment step they ended at.
    episode_returns: list[float] = field(default_factory=list)
    episode_end_steps: list[int] = field(default_factory=list)
    episode_truncated: list[bool] = field(default_factory=list)  # ended by the time limit
    # One entry per quick evaluation of the greedy policy.
    eval_env_steps: list[int] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    eval_returns: list[float] = field(default_factory=list)
    eval_complete: list[bool] = field(default_factory=list)
    eval_epsilons: list[float] = field(default_factory=list)
    full_evals: list[tuple[int, float]] = field(default_factory=list)  # (env steps, mean)
    # The loss of the last train step of every phase.
    losses: list[float] = field(default_factory=list)
    loss_env_steps: list[int] = field(default_factory=list)
    solved: bool = False
    solved_return: float | None = None
    seconds_to_solve: float | None = None
    env_steps_to_solve: int | None = None
    env_steps: int = 0
    train_steps: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(
        default_factory=lambda: {"collect": 0.0, "train": 0.0, "evaluate": 0.0}
    )

    def summary(self) -> str:
        """One line: solved or not, how fast, where the time went."""
        from utils.report import training_outcome

        return training_outcome(
            self.solved,
            solved_return=self.solved_return,
            env_steps_to_solve=self.env_steps_to_solve,
            seconds_to_solve=self.seconds_to_solve,
            env_steps=self.env_steps,
            timings=self.timings,
            check="the full check",
        )

    def to_dict(self) -> dict:
        """Everything as plain Python values (for JSON)."""
        return dataclasses.asdict(self)


def train(
    settings: ScratchSettings = COURSE,
    *,
    seed: int = 0,
    epsilon: EpsilonSchedule | None = None,
    progress: bool = True,
    description: str = "DQN from scratch",
) -> tuple[DQNAgent, ScratchHistory]:
    """Train a DQN on ``settings.env_name`` from scratch; stop at the first full pass.

    Taught in notebook 05. ``epsilon`` overrides the settings' schedule (e.g.
    ``EpsilonSchedule.constant(0.1)``). Returns ``(agent, history)``; when the task is solved,
    training stops at once, so ``agent`` holds the policy that passed the check.
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    s = settings
    schedule = epsilon or s.epsilon()
    tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    rng = np.random.default_rng(seed)
    env = make_gym_env(s.env_name, seed=seed)
    observation_size = env.observation_space.shape[0]
    agent = DQNAgent(s, observation_size, env.action_space.n)
    buffer = ReplayBuffer(s.buffer_capacity, (observation_size,), seed=seed)
    history = ScratchHistory()
    clock = history.timings
    start = time.perf_counter()
    quick_envs = [
        make_gym_env(s.env_name, seed=1000 * seed + 1 + i) for i in range(s.eval_episodes)
    ]
    full_envs = [
        make_gym_env(s.env_name, seed=1000 * seed + 500 + i) for i in range(s.solve_episodes)
    ]
    stop_early = {"target": s.target_return, "max_episode_return": s.max_episode_return}
    if s.max_episode_return is None:
        stop_early = {}

    observation = env.reset(seed=seed)
    episode_return = 0.0
    env_steps = 0

    def collect(steps: int, eps: float) -> None:
        nonlocal observation, episode_return, env_steps
        for _ in range(steps):
            action = agent.act(observation, eps, rng)
            next_observation, reward, done, info = env.step(action)
            terminated, truncated = split_done(done, info)
            if not s.bootstrap_at_time_limit:
                terminated = done  # the classic bug: the clock counts as a termination
            buffer.add(observation, action, reward, next_observation, terminated)
            episode_return += reward
            env_steps += 1
            observation = next_observation
            if done:
                history.episode_returns.append(episode_return)
                history.episode_end_steps.append(env_steps)
                history.episode_truncated.append(truncated)
                episode_return = 0.0
                observation = env.reset()

    with Stopwatch(clock, "collect"):
        collect(s.initial_collect_steps, 1.0)  # random play: the agent knows nothing yet

    phases = math.ceil(max(s.max_env_steps - env_steps, 0) / s.collect_steps_per_phase)
    bar = tqdm(range(1, phases + 1), desc=description, disable=not progress)
    last_eval, loss = "-", math.nan
    for phase in bar:
        with Stopwatch(clock, "collect"):
            collect(s.collect_steps_per_phase, schedule(agent.train_steps))
        with Stopwatch(clock, "train"):
            for _ in range(s.train_steps_per_phase):
                loss_tensor = agent.train(buffer.sample(s.batch_size))
            loss = float(loss_tensor)
            history.losses.append(loss)
            history.loss_env_steps.append(env_steps)

        full = None
        if phase % s.eval_interval == 0:
            with Stopwatch(clock, "evaluate"):
                check = evaluate_greedy(
                    agent.greedy_actions, quick_envs, s.eval_episodes, **stop_early
                )
                history.eval_env_steps.append(env_steps)
                history.eval_seconds.append(time.perf_counter() - start)
                history.eval_returns.append(check.mean)
                history.eval_complete.append(check.complete)
                history.eval_epsilons.append(schedule(agent.train_steps))
                last_eval = f"{check.mean:.0f}" + ("" if check.complete else "*")
                if check.reaches(s.target_return):
                    full = evaluate_greedy(
                        agent.greedy_actions, full_envs, s.solve_episodes, **stop_early
                    )
                    history.full_evals.append((env_steps, full.mean))
        if full is not None and full.reaches(s.target_return):
            history.solved = True
            history.solved_return = full.mean
            history.seconds_to_solve = time.perf_counter() - start
            history.env_steps_to_solve = env_steps
            last_eval = "solved"
        bar.set_postfix({"step": env_steps, "loss": f"{loss:.3g}", "eval": last_eval})
        if history.solved:
            break  # keep the policy that solved the task
        if s.max_episodes is not None and len(history.episode_returns) >= s.max_episodes:
            break
    bar.close()
    history.env_steps = env_steps
    history.train_steps = agent.train_steps
    history.seconds = time.perf_counter() - start
    return agent, history


# --- watching -------------------------------------------------------------------------------


def render_greedy_episode(
    agent: DQNAgent, env_name: str, seed: int = 0, max_steps: int = 10_000
) -> tuple[list[np.ndarray], float]:
    """Play one greedy episode and return its RGB frames and return (call setup_display first)."""
    env = make_gym_env(env_name, seed=seed)
    observation = env.reset(seed=seed)
    frames = [np.asarray(env.render(mode="rgb_array"), dtype=np.uint8)]
    total = 0.0
    for _ in range(max_steps):
        action = int(agent.greedy_actions(np.asarray(observation)[None])[0])
        observation, reward, done, _ = env.step(action)
        total += reward
        frames.append(np.asarray(env.render(mode="rgb_array"), dtype=np.uint8))
        if done:
            break
    env.close()
    return frames, total
