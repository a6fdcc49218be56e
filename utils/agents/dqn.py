"""DQN with TF-Agents: settings, the agent, and a training loop with Reverb replay and PyDriver.

Taught in notebook 03; notebook 04 runs it side by side with the official tutorial's settings,
and so does ``benchmarks/dqn_cartpole.py`` over many seeds. Two sets of settings:
``TUTORIAL`` (those of the official TF-Agents DQN tutorial) and ``COURSE`` (tuned to solve
CartPole-v1 fast and reliably on a 2-core CPU). Both run through the same :func:`train`
loop, so they compare like with like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from utils import envs
from utils.envs import CARTPOLE_OBSERVATION_SCALE
from utils.infra import report
from utils.infra.report import Stopwatch
from utils.infra.runtime import LazyModule
from utils.rl import evaluation
from utils.rl.checkpoints import Parts, RunSaver
from utils.rl.training import QHistory, SolveCheck, TrainerSettings, default_timings

# Imported at first use, after the notebook's setup cell has configured TensorFlow.
tf = LazyModule("tensorflow")
py_driver = LazyModule("tf_agents.drivers.py_driver")
py_tf_eager_policy = LazyModule("tf_agents.policies.py_tf_eager_policy")
random_py_policy = LazyModule("tf_agents.policies.random_py_policy")

LOSSES = ("squared", "huber")
INITS = ("tutorial", "keras")


@dataclass(frozen=True, kw_only=True)
class DqnSettings(TrainerSettings):
    """Every hyperparameter of a DQN run on one environment. Taught in notebook 03.

    The environment and the rule for "solved" (``env_name``, ``eval_interval``,
    ``eval_episodes``, ``solve_episodes``, ``target_return``, ``max_episode_return``) come
    from ``TrainerSettings``, which every trainer shares.
    """

    name: str  # what the summary and the benchmark call these settings
    # True: reaching the step limit truncates the episode (discount 1: the agent still values
    # what would come next). False: it terminates it (discount 0), as ``suite_gym.load`` does.
    time_limit_truncates: bool = False
    # The Q-network: Dense ReLU layers, then one output (a Q-value) per action.
    hidden_layers: tuple[int, ...] = (100, 50)
    init: str = "tutorial"  # initial weights: "tutorial" (He, small Q-values) or "keras"
    # Divide each observation by these typical magnitudes first (None: feed it raw).
    observation_scale: tuple[float, ...] | None = None
    # Learning.
    learning_rate: float = 1e-3
    gamma: float = 1.0  # discount of future rewards
    loss: str = "squared"  # TD loss: "squared" or "huber"
    target_update_period: int = 1  # train steps between target-network updates (1: every step)
    # How far each update moves the target network toward the online one: 1.0 copies it (a
    # hard sync); a small value such as 0.01 nudges it a little (a soft, or Polyak, update).
    target_update_tau: float = 1.0
    gradient_clipping: float | None = None  # largest gradient norm, or None
    batch_size: int = 64  # transitions per train step
    # Replay and data collection.
    replay_capacity: int = 100_000  # transitions the replay keeps (the oldest go first)
    initial_collect_steps: int = 100  # random-policy steps before training starts
    collect_steps_per_iteration: int = 1  # environment steps per iteration, then ...
    train_steps_per_iteration: int = 1  # ... this many train steps
    sample_size: int = 64  # transitions drawn from Reverb per iteration (>= batch_size)
    # Exploration: epsilon decays linearly over `epsilon_decay_steps` train steps.
    epsilon_start: float = 0.1
    epsilon_end: float = 0.1
    epsilon_decay_steps: int = 1
    # Schedule: the rule for "solved" is TrainerSettings'; the tutorial checks every 1 000.
    num_iterations: int = 20_000  # give up after this many iterations
    eval_interval: int = 1000

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        super().validate()
        self.require_positive("learning_rate")
        self.require_whole(
            "batch_size",
            "replay_capacity",
            "collect_steps_per_iteration",
            "train_steps_per_iteration",
            "sample_size",
            "epsilon_decay_steps",
            "num_iterations",
            "target_update_period",
        )
        self.require_whole("initial_collect_steps", minimum=0)
        self.require_sizes("hidden_layers")
        self.require_scales("observation_scale")
        self.require_between("gamma", "epsilon_start", "epsilon_end")
        self.require_fraction("target_update_tau")
        self.require_one_of("init", INITS)
        self.require_one_of("loss", LOSSES)
        self.require_positive("gradient_clipping", optional=True)
        self.require_at_least("sample_size", "batch_size", why="each draw feeds train steps")


# The official TF-Agents DQN tutorial (agents/docs/tutorials/1_dqn_tutorial), on CartPole-v1.
TUTORIAL = DqnSettings(name="tutorial")

COURSE = DqnSettings(
    name="course",
    time_limit_truncates=True,
    hidden_layers=(256, 256),
    init="keras",
    observation_scale=CARTPOLE_OBSERVATION_SCALE,
    learning_rate=1e-3,
    gamma=0.99,
    loss="huber",
    target_update_period=1,
    target_update_tau=0.01,
    gradient_clipping=10.0,
    batch_size=64,
    initial_collect_steps=1000,
    collect_steps_per_iteration=256,
    train_steps_per_iteration=128,
    sample_size=2048,
    epsilon_start=1.0,
    epsilon_end=0.04,
    epsilon_decay_steps=1000,
    num_iterations=200,
    eval_interval=1,
)


def make_env(settings: DqnSettings, seed: int | None = None):
    """The training environment; see ``DqnSettings.time_limit_truncates``."""
    from tf_agents.environments import suite_gym

    if settings.time_limit_truncates:
        env = envs.load_env(settings.env_name)  # TF-Agents' TimeLimit: discount 1 at the limit
    else:
        env = suite_gym.load(settings.env_name)  # the tutorial's: gym ends it as "done"
    envs.check_action_spec("DQN", env.action_spec())
    if seed is not None:
        env.seed(seed)
    return env


def greedy_check(agent, settings: DqnSettings, num_episodes: int, seed: int = 0):
    """A function of no arguments: play ``num_episodes`` greedy episodes of ``agent.policy``.

    One Gym environment per episode, all stepped together with one compiled policy call per
    step (``evaluation.evaluate_gym``), stopped as soon as ``settings.target_return`` is out
    of reach. The first call resets environment ``i`` with ``seed + i``; later calls play on,
    so every call plays fresh episodes. Each call returns an ``EvalResult``.
    """
    games = [envs.make_gym_env(settings.env_name) for _ in range(num_episodes)]
    actions = evaluation.policy_actions(agent.policy)
    first_seed = [seed]  # used by the first call only

    def check():
        start = first_seed.pop() if first_seed else None
        return evaluation.evaluate_gym(
            games, actions, num_episodes, seed=start, **settings.stop_early
        )

    return check


def solve_check(agent, settings: DqnSettings, history, start: float, *, seed=0, quick_check=None):
    """The quick check after each iteration and the full one when it passes (``SolveCheck``).

    ``quick_check(agent, settings, num_episodes, seed)`` builds the quick check instead of
    :func:`greedy_check` (the benchmark plays the tutorial's). Each check has its own seeds.
    Before each quick check, ε and the Q-network's value of fixed start states are recorded.
    """
    quick = (quick_check or greedy_check)(agent, settings, settings.eval_episodes, 1000 * seed + 1)
    full = greedy_check(agent, settings, settings.solve_episodes, seed=1000 * seed + 500)
    starts = envs.start_observations(settings.env_name, library="gym")  # suite_gym's

    def probe_then_check():
        history.eval_epsilons.append(float(agent.collect_policy._get_epsilon()))  # the schedule
        q_values, _ = agent._q_network(starts)  # the agent's own network (TF-Agents: private)
        history.eval_start_values.append(float(np.mean(np.max(q_values, axis=-1))))
        return quick()

    return SolveCheck(
        history, quick=probe_then_check, full=full, target=settings.target_return, start=start
    )


@dataclass
class DqnHistory(QHistory):
    """What happened during :func:`train`; ``QHistory`` holds what every DQN records."""

    eval_iterations: list[int] = field(default_factory=list)  # iteration of each quick check
    # Seconds per phase; "fill" is the random play before training, apart from "collect".
    timings: dict[str, float] = field(default_factory=lambda: {"fill": 0.0, **default_timings()})


# --- the training loop, as notebook 03 teaches it -------------------------------------------


def layer_initializers(init: str):
    """``(hidden, output_kernel, output_bias)`` initializers for :func:`build_q_network`.

    ``"keras"``: Keras's default (Glorot uniform weights, zero biases), the course's choice.
    ``"tutorial"``: TF-Agents' DQN tutorial's (He-style hidden layers; output weights in
    ±0.03 and biases -0.2, so that all Q-values start small and equal; notebook 04).
    ``hidden`` is a function: each layer needs a fresh initializer, so layers start different.
    """
    if init == "keras":
        return (lambda: "glorot_uniform"), "glorot_uniform", "zeros"
    return (
        lambda: tf.keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal"),
        tf.keras.initializers.RandomUniform(-0.03, 0.03),
        tf.keras.initializers.Constant(-0.2),
    )


class TrainingRun:
    """The course's bookkeeping around notebook 03's loop: history, timing, checks, progress.

    ``train`` creates one, times its phases with ``timed``, loops over ``iterations()`` and
    calls ``end_of_iteration`` after each; ``finish`` returns the ``DqnHistory``. With
    ``checkpoints`` (notebook 11), ``resume`` continues the run saved there, and the run is
    saved every so many train steps and at the end.
    """

    def __init__(
        self,
        agent,
        settings: DqnSettings,
        *,
        seed=0,
        progress=True,
        quick_check=None,
        checkpoints=None,
        replay=None,
    ):
        self.agent, self.settings, self.show = agent, settings, progress
        self.start = time.perf_counter()
        self.history = DqnHistory(label=settings.name)
        self.check = solve_check(
            agent, settings, self.history, self.start, seed=seed, quick_check=quick_check
        )
        self.bar, self.iteration, self.loss = None, 0, float("nan")
        self.saver = checkpointed(checkpoints, settings, agent, replay, self.check)

    def resume(self) -> int | None:
        """The environment steps of the checkpoint the run continues from, or None (a new run).

        Agent, replay memory and history are restored; the episode being played is not (the
        environment starts a new one).
        """
        if not self.saver.resume():
            return None
        self.iteration = self.saver.iteration
        return self.saver.env_steps

    def timed(self, phase: str) -> Stopwatch:
        """Add the seconds of a ``with`` block to the history's ``phase`` ("collect", ...)."""
        return Stopwatch(self.history.timings, phase)

    def iterations(self):
        """The iterations left (1 ... ``settings.num_iterations`` for a new run), with a bar."""
        first = self.iteration + 1
        last = first - 1 if self.history.solved else self.settings.num_iterations
        numbers = range(first, last + 1)
        self.bar = report.progress_bar(numbers, desc=self.settings.name, disable=not self.show)
        return self.bar

    def end_of_iteration(self, iteration: int, env_steps: int, losses) -> bool:
        """Record the iteration's loss (the largest of its train steps: a mean would hide a
        spike), run the checks when due, update the progress bar, save when due; True once
        solved."""
        self.iteration = iteration
        self.loss = self.history.record_loss(env_steps, tf.reduce_max(losses))
        if iteration % self.settings.eval_interval == 0:
            self.history.eval_iterations.append(iteration)
            if self.check(env_steps):
                return True
        self.check.progress(self.bar, env_steps, self.loss)
        train_steps = int(self.agent.train_step_counter.numpy())
        self.saver.after_iteration(iteration, env_steps, train_steps)
        return False

    def finish(self, env_steps: int) -> DqnHistory:
        """Close the progress bar, complete the history and save the last checkpoint."""
        if self.bar is not None:
            self.check.progress(self.bar, env_steps, self.loss, close=True)
        train_steps = int(self.agent.train_step_counter.numpy())
        counts = {"iterations": self.iteration, "env_steps": env_steps, "train_steps": train_steps}
        self.history.finish(self.check.start, **counts)
        self.saver.finish(self.iteration, env_steps, train_steps)
        return self.history


def checkpointed(checkpoints, settings: DqnSettings, agent, replay, check) -> RunSaver:
    """Connect one run of :func:`train` to a checkpoint folder (``None``: save nothing).

    A checkpoint holds the agent (both networks, the optimizer, the train-step counter that
    drives ε and the target updates), the replay memory (Reverb's own checkpoint of its table,
    or the ``TFUniformReplayBuffer``'s variables) and the history.
    """
    spec = agent.time_step_spec.observation
    parts = Parts(
        tf={"agent": agent, **(replay.trackables() if replay is not None else {})},
        save_extra=lambda folder: replay.save_to(folder / "reverb"),
        load_extra=lambda folder: replay.restore_from(folder / "reverb"),
    )
    identity = {
        "trainer": "dqn_tf_agents",
        "env_name": settings.env_name,
        "observation_shape": list(spec.shape),
        "num_actions": int(agent.action_spec.maximum - agent.action_spec.minimum + 1),
        "hidden_layers": list(settings.hidden_layers),
        "observation_scale": settings.observation_scale,
        "replay": type(replay).__name__,
        "replay_capacity": settings.replay_capacity,
    }
    return RunSaver(checkpoints, parts, identity=identity, settings=settings, check=check)


# BEGIN generated from notebooks/03_dqn_tf_agents.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def build_q_network(settings, num_actions):
    """A sequential Q-network: Dense ReLU layers, then one linear output per action."""
    from tf_agents.networks import sequential

    layers = []
    if settings.observation_scale is not None:
        # Bring every observation to about [-1, 1]: CartPole's pole angle (±0.21 rad) is
        # tiny next to its cart position (±2.4), yet it matters most for balancing.
        scale = [1.0 / magnitude for magnitude in settings.observation_scale]
        layers.append(tf.keras.layers.Rescaling(scale))
    hidden_init, output_init, output_bias = layer_initializers(settings.init)
    for units in settings.hidden_layers:
        dense = tf.keras.layers.Dense(units, activation="relu", kernel_initializer=hidden_init())
        layers.append(dense)
    # One linear output per action: its Q-value.
    output = tf.keras.layers.Dense(
        num_actions, kernel_initializer=output_init, bias_initializer=output_bias
    )
    return sequential.Sequential([*layers, output])


def build_agent(settings, env):
    """A ``DqnAgent`` for ``env`` (a Python or TF environment), built from ``settings``."""
    from tf_agents.agents.dqn import dqn_agent
    from tf_agents.specs import tensor_spec
    from tf_agents.utils import common

    time_step_spec = tensor_spec.from_spec(env.time_step_spec())
    action_spec = tensor_spec.from_spec(env.action_spec())
    num_actions = int(action_spec.maximum - action_spec.minimum + 1)
    # Counts train steps (an int64 variable; ε and the target updates read it).
    train_step_counter = tf.Variable(0, dtype=tf.int64, name="train_step_counter")
    # Exploration: ε falls linearly from epsilon_start to epsilon_end, then stays there.
    epsilon = tf.keras.optimizers.schedules.PolynomialDecay(
        settings.epsilon_start, settings.epsilon_decay_steps, settings.epsilon_end
    )
    losses = {"squared": common.element_wise_squared_loss, "huber": common.element_wise_huber_loss}
    agent = dqn_agent.DqnAgent(
        time_step_spec,
        action_spec,
        q_network=build_q_network(settings, num_actions),
        optimizer=tf.keras.optimizers.Adam(learning_rate=settings.learning_rate),
        td_errors_loss_fn=losses[settings.loss],
        gamma=settings.gamma,
        target_update_period=settings.target_update_period,
        target_update_tau=settings.target_update_tau,
        gradient_clipping=settings.gradient_clipping,
        epsilon_greedy=lambda: epsilon(train_step_counter),
        train_step_counter=train_step_counter,
    )
    agent.initialize()
    return agent


def make_collectors(agent, env, replay, settings, seed=0):
    """Two PyDrivers that write every step into the replay: random play, then ε-greedy play."""
    random_policy = random_py_policy.RandomPyPolicy(
        env.time_step_spec(), env.action_spec(), seed=seed
    )
    fill = py_driver.PyDriver(
        env, random_policy, [replay.observer], max_steps=settings.initial_collect_steps
    )
    # PyTFEagerPolicy lets the agent's TensorFlow policy act in a Python environment.
    collect_policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True)
    collect = py_driver.PyDriver(
        env, collect_policy, [replay.observer], max_steps=settings.collect_steps_per_iteration
    )
    return fill, collect


def make_train_step(agent, settings):
    """The compiled train step: ``train_step(sample, k)`` trains on the k-th minibatch of a draw.

    ``sample`` is one draw of ``settings.sample_size`` transitions. Reverb drew them uniformly
    at random, so consecutive slices of ``batch_size`` are random minibatches (reused when the
    draw is smaller than ``train_steps_per_iteration x batch_size``). Traced without autograph
    (the step has no Python control flow to convert), which makes tracing faster.
    """

    def train_on(sample, indices):
        minibatch = tf.nest.map_structure(lambda t: tf.gather(t, indices), sample)
        return agent.train(minibatch).loss  # DqnAgent: TD targets, loss, one gradient step

    compiled = tf.function(train_on, autograph=False)

    def train_step(sample, k):
        first = k * settings.batch_size
        indices = np.arange(first, first + settings.batch_size) % settings.sample_size
        return compiled(sample, indices)

    return train_step


def train(
    agent, env, replay, settings, *, seed=0, progress=True, quick_check=None, checkpoints=None
):
    """Collect with a PyDriver into the replay, train from it, check; stop once solved.

    Returns a ``DqnHistory``; ``agent.policy`` is then the policy that passed the full check.
    ``quick_check`` replaces the quick check (see ``dqn.solve_check``). ``checkpoints``
    (notebook 11) continues the run saved in its folder, and saves it there.
    """
    run = TrainingRun(
        agent,
        settings,
        seed=seed,
        progress=progress,
        quick_check=quick_check,
        checkpoints=checkpoints,
        replay=replay,
    )
    env_steps = run.resume()  # None, unless a checkpoint restored agent, replay and history
    fill, collect = make_collectors(agent, env, replay, settings, seed)
    time_step = env.reset()
    if env_steps is None:  # a new run
        with run.timed("fill"):
            time_step, _ = fill.run(time_step)  # random play: the agent knows nothing yet
        env_steps = settings.initial_collect_steps
    # Reverb hands out items one at a time, so each iteration draws all it trains on at once.
    samples = iter(replay.dataset(settings.sample_size, num_steps=2, prefetch=1))
    train_step = make_train_step(agent, settings)
    for iteration in run.iterations():
        with run.timed("collect"):
            time_step, _ = collect.run(time_step)  # ε-greedy play, written into Reverb
            env_steps += settings.collect_steps_per_iteration
        with run.timed("train"):
            sample, _ = next(samples)
            losses = [train_step(sample, k) for k in range(settings.train_steps_per_iteration)]
        if run.end_of_iteration(iteration, env_steps, losses):  # checks and saves, when due
            break  # solved: stop, so the agent keeps the policy that passed
    return run.finish(env_steps)


# END generated from notebooks/03_dqn_tf_agents.ipynb


def train_from_scratch(
    settings: DqnSettings,
    *,
    seed: int = 0,
    progress: bool = True,
    quick_check: Callable | None = None,
    checkpoints=None,
    backend: str = "auto",
):
    """Seed everything, build environment, agent and replay, train; return (agent, history).

    ``checkpoints`` (notebook 11): continue from and save into its folder; ``backend``: the
    replay memory (``make_replay``'s choice).
    """

    from utils.rl.replay import make_replay

    tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    env = make_env(settings, seed=seed)
    agent = build_agent(settings, env)
    capacity = settings.replay_capacity
    with make_replay(agent.collect_data_spec, capacity, backend=backend) as replay:
        history = train(
            agent,
            env,
            replay,
            settings,
            seed=seed,
            progress=progress,
            quick_check=quick_check,
            checkpoints=checkpoints,
        )
    return agent, history
