"""DQN written out in plain TensorFlow/Keras: replay buffer, networks, epsilon, TD target, loop.

Taught in notebook 07, and run from the shell by ``scripts/train_dqn.py``. It does what
TF-Agents did for us in notebook 03 (``utils/agents/dqn.py``), with the same ideas and the same
settings (``COURSE``), and no TF-Agents at all: Gymnasium environments are stepped directly.

Gymnasium's ``step`` reports the two ways an episode ends apart: the pole fell (``terminated``:
nothing follows) or the 500-step clock ran out (``truncated``: the episode was cut off, the
state still has a future). Only terminations stop the TD target from bootstrapping; old Gym's
single ``done`` flag (``terminated or truncated``) as the mask is the classic bug, which
``ScratchSettings(time_limit_truncates=False)`` reproduces.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from utils import envs
from utils.envs import CARTPOLE_OBSERVATION_SCALE
from utils.infra import report
from utils.infra.report import Stopwatch
from utils.infra.runtime import LazyModule
from utils.rl.checkpoints import Checkpoints, Parts, RunSaver
from utils.rl.losses import LOSSES, elementwise_loss  # notebook 07's cell, saved there
from utils.rl.training import QHistory, SolveCheck, TrainerSettings, gym_checks

tf = LazyModule("tensorflow")  # imported at first use, after the notebook's setup cell


# --- the pieces of the algorithm, as notebook 07 teaches them ---------------------------------

# BEGIN generated from notebooks/07_dqn_from_scratch.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


class RingBuffer:
    """A fixed-size ring of transitions (s, a, r, s', terminated), one NumPy array per field."""

    def __init__(self, capacity, observation_shape):
        if not isinstance(capacity, int | np.integer) or capacity < 1:
            raise ValueError(f"capacity must be a whole number >= 1, got {capacity!r}.")
        self.capacity, self.observation_shape = int(capacity), tuple(observation_shape)
        self.observations = np.zeros((self.capacity, *self.observation_shape), np.float32)
        self.next_observations = np.zeros_like(self.observations)
        self.actions = np.zeros(self.capacity, np.int32)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, np.float32)  # 1: terminated (not truncated)
        self.next_index, self.size = 0, 0  # where the next one goes; how many are stored

    def __len__(self):
        return self.size

    def add(self, observation, action, reward, next_observation, terminated):
        """Store one transition in the next slot, overwriting the oldest when full."""
        if np.shape(observation) != self.observation_shape:
            raise ValueError(
                f"observation has shape {np.shape(observation)}, but this buffer stores "
                f"observations of shape {self.observation_shape}."
            )
        i = self.next_index
        self.observations[i], self.next_observations[i] = observation, next_observation
        self.actions[i], self.rewards[i], self.terminated[i] = action, reward, terminated
        self.next_index = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)


@dataclasses.dataclass
class Batch:
    """A minibatch of transitions (s, a, r, s', terminated), one NumPy array per field."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray


class ReplayBuffer(RingBuffer):
    """A ``RingBuffer`` that hands out minibatches drawn uniformly at random."""

    def __init__(self, capacity, observation_shape, seed=None):
        super().__init__(capacity, observation_shape)
        self.rng = np.random.default_rng(seed)  # seeded: the same draws on every run

    def sample(self, batch_size):
        """``batch_size`` transitions drawn uniformly at random (with replacement)."""
        if self.size == 0:
            raise ValueError("The replay buffer is empty: add transitions before sampling.")
        i = self.rng.integers(0, self.size, size=batch_size)
        return Batch(
            self.observations[i],
            self.actions[i],
            self.rewards[i],
            self.next_observations[i],
            self.terminated[i],
        )


def make_q_network(observation_size, num_actions, hidden_layers, observation_scale=None):
    """A Keras MLP: rescaling (optional), Dense ReLU layers, one linear Q-value per action."""
    layers = [tf.keras.Input(shape=(observation_size,))]
    if observation_scale is not None:
        if len(observation_scale) != observation_size:
            raise ValueError(
                f"observation_scale has {len(observation_scale)} entries for observations "
                f"of size {observation_size}."
            )
        layers.append(tf.keras.layers.Rescaling([1.0 / s for s in observation_scale]))
    layers += [tf.keras.layers.Dense(int(units), activation="relu") for units in hidden_layers]
    layers.append(tf.keras.layers.Dense(num_actions))  # linear: a Q-value can be any number
    return tf.keras.Sequential(layers)


@dataclasses.dataclass(frozen=True)
class EpsilonSchedule:
    """ε after ``step`` train steps: linear from ``start`` to ``end``, then constant."""

    start: float = 1.0
    end: float = 0.04
    decay_steps: int = 1000

    def __post_init__(self):
        for name in ("start", "end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"epsilon {name} must be in [0, 1], got {getattr(self, name)!r}.")
        if self.decay_steps < 0:
            raise ValueError(f"decay_steps must be >= 0, got {self.decay_steps!r}.")

    @classmethod
    def constant(cls, value):
        """The same ε at every step."""
        return cls(value, value, 0)

    def __call__(self, step):
        if self.decay_steps == 0:
            return float(self.end)
        fraction = min(max(step, 0), self.decay_steps) / self.decay_steps
        return float(self.start + fraction * (self.end - self.start))


def td_target(rewards, terminated, next_q_online, next_q_target, gamma):
    """DQN's targets y = r + γ (1 - terminated) max_a' Q_target(s', a'), as float32.

    ``next_q_online`` (the online network's Q-values of s') is not used here: it lets another
    rule with the same arguments take this one's place (notebook 07's exercises).
    """
    rewards, terminated = tf.cast(rewards, tf.float32), tf.cast(terminated, tf.float32)
    next_value = tf.reduce_max(tf.cast(next_q_target, tf.float32), axis=-1)
    return rewards + gamma * (1.0 - terminated) * next_value


def dqn_loss(agent, observations, actions, rewards, next_observations, terminated):
    """The mean loss of the TD errors y - Q(s, a) over one minibatch."""
    s = agent.settings
    next_q_online = agent.q_network(next_observations)  # read by Double DQN only
    next_q_target = agent.target_network(next_observations)
    rule = agent.target_rule or td_target  # the cell above, unless told otherwise
    targets = rule(rewards, terminated, next_q_online, next_q_target, s.gamma)
    targets = tf.stop_gradient(targets)  # a label to chase: no gradient flows into it
    q_values = agent.q_network(observations, training=True)
    chosen = tf.gather(q_values, actions, axis=-1, batch_dims=1)  # Q(s, a) of the actions taken
    if agent.loss_rule is not None:  # a loss of your own, e.g. the exercise's
        return tf.reduce_mean(agent.loss_rule(targets - chosen))
    return tf.reduce_mean(elementwise_loss(targets - chosen, s.loss))


def train_step(agent, observations, actions, rewards, next_observations, terminated):
    """One gradient step of the online network on a minibatch; returns the loss."""
    with tf.GradientTape() as tape:
        loss = dqn_loss(agent, observations, actions, rewards, next_observations, terminated)
    variables = agent.q_network.trainable_variables
    gradients = tape.gradient(loss, variables)
    if agent.settings.gradient_clipping is not None:
        gradients, _ = tf.clip_by_global_norm(gradients, agent.settings.gradient_clipping)
    agent.optimizer.apply_gradients(zip(gradients, variables, strict=True))
    return loss


class DQNLearner:
    """An online Q-network, its target copy, Adam, and ``train_step`` compiled by tf.function."""

    def __init__(self, settings, observation_size, num_actions, target_rule=None, loss_rule=None):
        self.settings, self.num_actions = settings, int(num_actions)
        self.target_rule = target_rule  # None: td_target (the exercises pass their own)
        self.loss_rule = loss_rule  # None: elementwise_loss(errors, settings.loss)
        shape = (observation_size, num_actions, settings.hidden_layers, settings.observation_scale)
        self.q_network, self.target_network = make_q_network(*shape), make_q_network(*shape)
        self.target_network.set_weights(self.q_network.get_weights())  # start as a copy
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=settings.learning_rate)
        self.optimizer.build(self.q_network.trainable_variables)
        self.train_steps = 0  # calls of train(): they drive ε and the target updates
        self._train_step = tf.function(functools.partial(train_step, self))
        self._update_target = tf.function(self.update_target)

    def update_target(self):
        """Move each target weight the fraction τ of the way to the online one (τ = 1: copy)."""
        tau = self.settings.target_update_tau
        pairs = zip(self.target_network.variables, self.q_network.variables, strict=True)
        for target, online in pairs:
            target.assign(tau * online + (1.0 - tau) * target)

    def train(self, batch):
        """One train step on ``batch``; every C-th one also updates the target network."""
        fields = (batch.observations, batch.actions, batch.rewards, batch.next_observations)
        loss = self._train_step(*fields, batch.terminated)
        self.train_steps += 1
        if self.train_steps % self.settings.target_update_period == 0:
            self._update_target()
        return loss


class DQNAgent(DQNLearner):
    """A ``DQNLearner`` that also acts: greedy and ε-greedy actions of the online network."""

    def __init__(self, settings, observation_size, num_actions, target_rule=None, loss_rule=None):
        super().__init__(settings, observation_size, num_actions, target_rule, loss_rule)

        def greedy(observations):  # the action of largest Q-value, for a batch
            return tf.argmax(self.q_network(observations), axis=-1, output_type=tf.int32)

        spec = tf.TensorSpec([None, observation_size], tf.float32)
        self._greedy = tf.function(greedy, input_signature=[spec])

    def greedy_actions(self, observations):
        """The action with the largest Q-value, for each observation of a batch."""
        return self._greedy(np.asarray(observations, np.float32)).numpy()

    def greedy_action(self, observation):
        """The action with the largest Q-value, for one observation."""
        return int(self.greedy_actions(np.asarray(observation)[None])[0])

    def act(self, observation, epsilon, rng):
        """ε-greedy: a random action with probability ε, else the greedy one."""
        if rng.random() < epsilon:
            return int(rng.integers(self.num_actions))
        return self.greedy_action(observation)

    def start_value(self, observations):
        """The mean of max_a Q(s, a) over ``observations``: the return the network expects."""
        q_values = self.q_network(np.asarray(observations, np.float32), training=False)
        return float(np.mean(np.max(q_values, axis=-1)))


class Collector:
    """Plays ε-greedy steps in one Gymnasium environment and stores each transition in a buffer."""

    def __init__(self, env, agent, buffer, history, *, seed=0):
        self.env, self.agent, self.buffer, self.history = env, agent, buffer, history
        self.rng = np.random.default_rng(seed)  # ε-greedy's coin flips and random actions
        self.observation, _ = env.reset(seed=seed)  # Gymnasium: (observation, info)
        self.episode_return, self.env_steps = 0.0, 0

    def run(self, steps, epsilon):
        """Play ``steps`` environment steps, each action ε-greedy."""
        for _ in range(steps):
            action = self.agent.act(self.observation, epsilon, self.rng)
            next_observation, reward, terminated, truncated, _ = self.env.step(action)
            done = terminated or truncated  # the episode is over (old Gym's one flag)
            if not self.agent.settings.time_limit_truncates:
                terminated = done  # the classic bug: the clock counts as a termination
            self.buffer.add(self.observation, action, reward, next_observation, terminated)
            self.episode_return += reward
            self.env_steps += 1
            self.observation = next_observation
            if done:  # note the finished episode, start the next one
                self.history.episode_returns.append(self.episode_return)
                self.history.episode_end_steps.append(self.env_steps)
                self.history.episode_truncated.append(truncated)
                (self.observation, _), self.episode_return = self.env.reset(), 0.0


def build_run(settings, history, start, *, seed=0, target_rule=None, loss_rule=None):
    """Seed everything, then build one run's agent, buffer, checks and collector, in that order."""
    s = settings
    tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    env = envs.make_env(s.env_name, seed=seed)  # Gymnasium
    size, actions = env.observation_space.shape[0], env.action_space.n
    agent = DQNAgent(s, size, actions, target_rule or s.target_rule(), loss_rule)
    buffer = ReplayBuffer(s.replay_capacity, (size,), seed=seed)
    check = greedy_checks(agent, s, history, start, seed=seed)  # quick, then full
    play = Collector(env, agent, buffer, history, seed=seed)
    return agent, buffer, check, play


def train(
    settings, *, seed=0, epsilon=None, progress=True, description="DQN", checkpoints=None, **rules
):
    """Train a DQN until the first full check passes; return ``(agent, history)``.

    ``epsilon`` replaces the settings' ε schedule; ``rules`` go to ``build_run``.
    ``checkpoints`` (notebook 11) continues the run saved in its folder, and saves it there.
    """
    s, history, start = settings, ScratchHistory(), time.perf_counter()
    schedule = epsilon or EpsilonSchedule(s.epsilon_start, s.epsilon_end, s.epsilon_decay_steps)
    clock = history.timings
    agent, buffer, check, play = build_run(s, history, start, seed=seed, **rules)
    run = checkpointed(checkpoints, s, agent, buffer, play, check)  # None: saves nothing
    if not run.resume():  # a new run, not one continued from a checkpoint
        with Stopwatch(clock, "collect"):
            play.run(s.initial_collect_steps, epsilon=1.0)  # random: nothing learned yet
    first, left = run.iteration + 1, 0 if history.solved else s.iterations_left(play.env_steps)
    bar = report.progress_bar(range(first, first + left), desc=description, disable=not progress)
    iteration, loss = run.iteration, float("nan")
    for iteration in bar:
        with Stopwatch(clock, "collect"):
            play.run(s.collect_steps_per_iteration, schedule(agent.train_steps))
        with Stopwatch(clock, "train"):
            for _ in range(s.train_steps_per_iteration):
                loss = agent.train(buffer.sample(s.batch_size))
            loss = history.record_loss(play.env_steps, loss)
        if iteration % s.eval_interval == 0 and check(play.env_steps, schedule(agent.train_steps)):
            break  # keep the policy that solved the task
        check.progress(bar, play.env_steps, loss)
        run.after_iteration(iteration, play.env_steps, agent.train_steps)  # saves when due
    check.progress(bar, play.env_steps, loss, close=True)
    history.finish(
        run.start, iterations=iteration, env_steps=play.env_steps, train_steps=agent.train_steps
    )
    run.finish(iteration, play.env_steps, agent.train_steps)  # the last checkpoint
    return agent, history


# END generated from notebooks/07_dqn_from_scratch.ipynb


def double_dqn_target(rewards, terminated, next_q_online, next_q_target, gamma: float):
    """Double DQN's targets: the online network picks a', the target network rates it.

    The answer to notebook 07's first exercise (read it after trying), and the rule that
    ``ScratchSettings(double=True)`` trains with. Same arguments as :func:`td_target`.
    """
    rewards, terminated = tf.cast(rewards, tf.float32), tf.cast(terminated, tf.float32)
    best = tf.argmax(next_q_online, axis=-1, output_type=tf.int32)  # a' = argmax Q_online(s', .)
    next_value = tf.gather(tf.cast(next_q_target, tf.float32), best, axis=-1, batch_dims=1)
    return rewards + gamma * (1.0 - terminated) * next_value


# --- settings ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScratchSettings(TrainerSettings):
    """Every hyperparameter of a from-scratch DQN run. Taught in notebook 07.

    The names are those of notebook 03's ``DqnSettings``, and ``COURSE`` holds the same
    values (a test checks it). The environment and the rule for "solved" come from
    ``TrainerSettings``; ``target_return=None`` never stops early and never counts as solved.
    """

    # The Q-network: Dense ReLU layers, then one linear output (a Q-value) per action.
    hidden_layers: tuple[int, ...] = (256, 256)
    # Divide each observation by these typical magnitudes first (None: feed it raw).
    observation_scale: tuple[float, ...] | None = CARTPOLE_OBSERVATION_SCALE
    # Learning.
    learning_rate: float = 1e-3  # Adam's step size
    gamma: float = 0.99  # discount of future rewards
    loss: str = "huber"  # TD loss: "huber" or "squared"
    target_update_period: int = 1  # train steps between target-network updates (C)
    # τ: each update moves the target network this fraction of the way to the online one
    # (1.0: a copy, a "hard" sync; small: a "soft", or Polyak, update).
    target_update_tau: float = 0.01
    gradient_clipping: float | None = 10.0  # largest global gradient norm, or None
    batch_size: int = 64  # transitions per train step
    double: bool = False  # Double DQN: the online network picks a', the target one rates it
    # True: reaching the step limit truncates the episode, and its TD target still
    # bootstraps (correct). False: treat it as the end of the world, like old Gym code that
    # masks with `done` (the classic bug).
    time_limit_truncates: bool = True
    # Replay and data collection.
    replay_capacity: int = 100_000  # transitions the buffer keeps (the oldest go first)
    initial_collect_steps: int = 1000  # random-policy steps before training starts
    collect_steps_per_iteration: int = 256  # environment steps per iteration, then ...
    train_steps_per_iteration: int = 128  # ... this many train steps
    # Exploration: epsilon falls linearly over `epsilon_decay_steps` train steps, then stays.
    epsilon_start: float = 1.0  # epsilon before the first train step
    epsilon_end: float = 0.04  # epsilon once the decay is over
    epsilon_decay_steps: int = 1000  # train steps of the decay (0: epsilon_end throughout)
    # Budget.
    max_env_steps: int = 60_000  # stop here if not solved before

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        super().validate()
        self.require_whole(
            "target_update_period",
            "batch_size",
            "replay_capacity",
            "collect_steps_per_iteration",
            "train_steps_per_iteration",
            "max_env_steps",
        )
        self.require_whole("initial_collect_steps", "epsilon_decay_steps", minimum=0)
        self.require_sizes("hidden_layers")
        self.require_positive("learning_rate")
        self.require_between("gamma", "epsilon_start", "epsilon_end")
        self.require_fraction("target_update_tau")
        self.require_one_of("loss", LOSSES)
        self.require_positive("gradient_clipping", optional=True)
        self.require_scales("observation_scale")
        self.require_at_least(
            "max_env_steps", "initial_collect_steps", why="the random warm-up comes first"
        )

    def target_rule(self):
        """The TD target these settings ask for: Double DQN's, or None for ``td_target``."""
        return double_dqn_target if self.double else None

    def iterations_left(self, env_steps: int) -> int:
        """Iterations of ``collect_steps_per_iteration`` that fit after ``env_steps``."""
        return math.ceil(max(self.max_env_steps - env_steps, 0) / self.collect_steps_per_iteration)


# The settings of notebook 03 (utils.agents.dqn.COURSE), for this implementation.
COURSE = ScratchSettings()


def settings_for(env_name: str, **changes) -> ScratchSettings:
    """``COURSE`` adapted to ``env_name`` (a Gymnasium id): its solve threshold, step limit and
    scaling."""
    import gymnasium

    envs.make_env(env_name).close()  # a clear error for unknown ids and unsuitable spaces
    spec = gymnasium.spec(env_name)
    cartpole = env_name.startswith("CartPole")
    adapted = {
        "env_name": env_name,
        "observation_scale": CARTPOLE_OBSERVATION_SCALE if cartpole else None,
        "target_return": spec.reward_threshold,
        # CartPole pays 1 per step, so its best return is the step limit; elsewhere unknown.
        "max_episode_return": float(spec.max_episode_steps) if cartpole else None,
    }
    if adapted["target_return"] is None:
        adapted["max_episode_return"] = None
    adapted.update(changes)
    return COURSE.replace(**adapted)


# --- training -------------------------------------------------------------------------------


@dataclass
class ScratchHistory(QHistory):
    """What happened during :func:`train`; ``QHistory`` holds what every DQN records."""

    # Training episodes (epsilon-greedy): return and the environment step they ended at.
    episode_returns: list[float] = field(default_factory=list)
    episode_end_steps: list[int] = field(default_factory=list)
    episode_truncated: list[bool] = field(default_factory=list)  # ended by the time limit


def greedy_checks(
    agent, settings: ScratchSettings, history: ScratchHistory, start: float, *, seed: int = 0
):
    """The quick check after each iteration and the full one when it passes (a ``SolveCheck``).

    Call it as ``check(env_steps, epsilon)``. Before each quick check it records ε and the
    value the network gives fixed start states. Both checks play the greedy policy on Gymnasium
    environments stepped together, one per episode, each check with its own seeds.
    """
    s = settings
    quick_check, full_check = gym_checks(s, agent.greedy_actions, seed=seed)
    starts = envs.start_observations(s.env_name)  # the same start states at every check

    def quick(epsilon: float):
        history.eval_epsilons.append(float(epsilon))
        history.eval_start_values.append(agent.start_value(starts))
        return quick_check()

    def full(epsilon: float):
        return full_check()

    return SolveCheck(
        history,
        quick=quick,
        full=full,
        target=s.target_return,
        start=start,
        environments=(quick_check.envs, full_check.envs),
    )


# --- checkpoints (notebook 11) ---------------------------------------------------------------


def checkpointed(
    checkpoints: Checkpoints | None, settings: ScratchSettings, agent, buffer, play, check
) -> RunSaver:
    """Connect one run of :func:`train` to a checkpoint folder (``None``: save nothing).

    What is saved: :func:`scratch_parts` (notebook 11), or ``checkpoints.parts_fn`` (same
    arguments) if set, and the history. Identity: what must match to continue (the
    environment, the network's and the buffer's shapes).
    """
    parts_fn = getattr(checkpoints, "parts_fn", None) or scratch_parts
    identity = {
        "trainer": "dqn_scratch",
        "env_name": settings.env_name,
        "observation_shape": list(buffer.observation_shape),
        "num_actions": agent.num_actions,
        "hidden_layers": list(settings.hidden_layers),
        "observation_scale": settings.observation_scale,
        "replay_capacity": settings.replay_capacity,
    }
    parts = parts_fn(agent, buffer, play, check)
    return RunSaver(checkpoints, parts, identity=identity, settings=settings, check=check)


# BEGIN generated from notebooks/11_checkpoints.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def scratch_parts(agent, buffer, play, check):
    """What a checkpoint of notebook 07's DQN holds: all it takes to go on exactly."""
    return Parts(
        tf={  # saved by tf.train.Checkpoint, restored into the same objects
            "q_network": agent.q_network,
            "target_network": agent.target_network,
            "optimizer": agent.optimizer,  # Adam's moments and its step count
        },
        attributes={  # pickled, then set back on the same objects
            "agent": (agent, ("train_steps",)),  # drives ε and the target updates
            "buffer": (buffer, tuple(vars(buffer))),  # transitions, size, sampling generator
            "play": (play, ("env", "rng", "observation", "episode_return", "env_steps")),
        },
        lists={  # the checks' environments, refilled in place
            f"check_envs_{i}": envs for i, envs in enumerate(check.environments)
        },
    )


# END generated from notebooks/11_checkpoints.ipynb
