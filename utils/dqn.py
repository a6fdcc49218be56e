"""DQN with TF-Agents: settings, the agent, and a training loop with Reverb replay and PyDriver.

Taught in notebook 02, and run side by side by ``benchmarks/dqn_cartpole.py``.

Two sets of settings are defined: ``TUTORIAL`` (those of the official TF-Agents DQN tutorial)
and ``COURSE`` (tuned to solve CartPole-v1 fast and reliably on a 2-core CPU). Both run
through the same :func:`train` loop, so they can be compared like with like.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from utils.report import Stopwatch

LOSSES = ("squared", "huber")
INITS = ("tutorial", "keras")
EVALUATIONS = ("tutorial", "sequential", "batched")


@dataclass(frozen=True)
class DqnSettings:
    """Every hyperparameter of a DQN run on one environment. Taught in notebook 02."""

    name: str
    env_name: str = "CartPole-v1"
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
    target_update_period: int = 1  # train steps between target-network syncs (1: none)
    gradient_clipping: float | None = None  # largest gradient norm, or None
    batch_size: int = 64  # transitions per train step
    # Replay and data collection.
    replay_capacity: int = 100_000
    initial_collect_steps: int = 100  # random-policy steps before training starts
    collect_steps_per_iteration: int = 1
    train_steps_per_iteration: int = 1
    sample_size: int = 64  # transitions drawn from Reverb per iteration (>= batch_size)
    # Exploration: epsilon decays linearly over `epsilon_decay_steps` train steps.
    epsilon_start: float = 0.1
    epsilon_end: float = 0.1
    epsilon_decay_steps: int = 1
    # Schedule and the "solved" rule.
    num_iterations: int = 20_000
    eval_interval: int = 1000  # iterations between evaluations
    # How the periodic check plays its episodes:
    # "tutorial": the tutorial's compute_avg_return: one TF environment (TFPyEnvironment),
    #     agent.policy called eagerly, one episode after another, each played to the end;
    # "sequential": the same, on a Python environment with the policy compiled (tf.function);
    # "batched": one Gym environment per episode, all stepped together with one compiled
    #     policy call per step, stopped as soon as the target is out of reach.
    evaluation: str = "tutorial"
    eval_episodes: int = 10  # episodes of the quick check
    solve_episodes: int = 100  # episodes of the full check, run when the quick one passes
    target_return: float = 475.0  # CartPole-v1 is solved at an average return of 475
    max_episode_return: float = 500.0  # the best return an episode can reach

    def __post_init__(self) -> None:
        """Reject settings that cannot run, with a message that says which value is wrong."""
        positive = [
            "learning_rate",
            "batch_size",
            "replay_capacity",
            "collect_steps_per_iteration",
            "train_steps_per_iteration",
            "sample_size",
            "epsilon_decay_steps",
            "num_iterations",
            "eval_interval",
            "eval_episodes",
            "solve_episodes",
            "target_update_period",
        ]
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}.")
        if self.initial_collect_steps < 0:
            raise ValueError("initial_collect_steps must be >= 0.")
        if not self.hidden_layers or any(units < 1 for units in self.hidden_layers):
            raise ValueError(f"hidden_layers needs sizes >= 1, got {self.hidden_layers!r}.")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma!r}.")
        if self.observation_scale is not None and not all(
            scale > 0 for scale in self.observation_scale
        ):
            raise ValueError(f"observation_scale must be > 0, got {self.observation_scale!r}.")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}.")
        if self.evaluation not in EVALUATIONS:
            raise ValueError(f"evaluation must be one of {EVALUATIONS}, got {self.evaluation!r}.")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        if self.gradient_clipping is not None and self.gradient_clipping <= 0:
            raise ValueError("gradient_clipping must be > 0 or None.")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}.")
        if self.sample_size < self.batch_size:
            raise ValueError("sample_size must be >= batch_size (each draw feeds train steps).")
        if self.solve_episodes < self.eval_episodes:
            raise ValueError("solve_episodes must be >= eval_episodes.")

    def replace(self, **changes) -> DqnSettings:
        """A copy with some values changed (validated again)."""
        return dataclasses.replace(self, **changes)


# The official TF-Agents DQN tutorial (agents/docs/tutorials/1_dqn_tutorial), on CartPole-v1.
TUTORIAL = DqnSettings(name="tutorial")

COURSE = DqnSettings(
    name="course",
    time_limit_truncates=True,
    hidden_layers=(256, 256),
    init="keras",
    observation_scale=(2.4, 3.0, 0.21, 3.0),  # cart x, cart speed, pole angle, pole speed
    learning_rate=1e-3,
    gamma=0.99,
    loss="huber",
    target_update_period=128,
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
    evaluation="batched",
)

# The tutorial's hyperparameters and schedule with a cheaper quick check: they separate what
# evaluation costs from what the other settings gain (benchmarks/dqn_cartpole.py).
TUTORIAL_COMPILED_EVAL = TUTORIAL.replace(name="tutorial-compiled-eval", evaluation="sequential")
TUTORIAL_BATCHED_EVAL = TUTORIAL.replace(name="tutorial-batched-eval", evaluation="batched")

SETTINGS = {
    "tutorial": TUTORIAL,
    "course": COURSE,
    "tutorial-compiled-eval": TUTORIAL_COMPILED_EVAL,
    "tutorial-batched-eval": TUTORIAL_BATCHED_EVAL,
}


def make_env(settings: DqnSettings, seed: int | None = None):
    """The training environment; see ``DqnSettings.time_limit_truncates``."""
    from tf_agents.environments import suite_gym

    from utils.envs import load_env

    if settings.time_limit_truncates:
        env = load_env(settings.env_name)  # TF-Agents' TimeLimit: discount 1 at the limit
    else:
        env = suite_gym.load(settings.env_name)  # the tutorial's: gym ends it as "done"
    if seed is not None:
        env.seed(seed)
    return env


def make_eval_env(env_name: str, copies: int, seed: int = 0):
    """``copies`` copies of an environment stepped as one batch (one policy call per step)."""
    from tf_agents.environments import batched_py_environment

    from utils.envs import load_env

    envs = [load_env(env_name) for _ in range(copies)]
    for i, env in enumerate(envs):
        env.seed(seed + i)
    return batched_py_environment.BatchedPyEnvironment(envs, multithreading=False)


def greedy_check(agent, settings: DqnSettings, num_episodes: int, *, style: str, seed: int = 0):
    """A function of no arguments: play ``num_episodes`` episodes of ``agent.policy``.

    ``style`` is one of ``EVALUATIONS`` (see ``DqnSettings.evaluation``); "batched" stops as
    soon as ``settings.target_return`` is out of reach. The environments are built here and
    seeded once (when built, or for "batched" by the first call), so every call plays fresh
    episodes and a seed starts the same first episode in every style. "batched" needs a Gym
    environment with vector observations and discrete actions (``make_gym_env``). Each call
    returns an ``EvalResult``.
    """
    from tf_agents.environments import suite_gym, tf_py_environment
    from tf_agents.policies import py_tf_eager_policy

    from utils import evaluation
    from utils.dqn_scratch import make_gym_env

    if style not in EVALUATIONS:
        raise ValueError(f"style must be one of {EVALUATIONS}, got {style!r}.")
    if style == "batched":
        envs = [make_gym_env(settings.env_name) for _ in range(num_episodes)]
        actions = evaluation.policy_actions(agent.policy)
        stop_early = {
            "target": settings.target_return,
            "max_episode_return": settings.max_episode_return,
        }
        first_seed = [seed]  # the first call resets env i with seed + i, later calls go on

        def check():
            start = first_seed.pop() if first_seed else None
            return evaluation.evaluate_gym(envs, actions, num_episodes, seed=start, **stop_early)

        return check
    env = suite_gym.load(settings.env_name)  # the tutorial's evaluation environment
    env.seed(seed)
    if style == "sequential":
        policy = py_tf_eager_policy.PyTFEagerPolicy(agent.policy, use_tf_function=True)
        return lambda: evaluation.evaluate(env, policy, num_episodes)
    tf_env = tf_py_environment.TFPyEnvironment(env)  # style == "tutorial"
    return lambda: evaluation.evaluate(tf_env, agent.policy, num_episodes)


def build_q_network(settings: DqnSettings, num_actions: int):
    """A sequential Q-network: Dense ReLU layers, then one linear output per action."""
    import tensorflow as tf
    from tf_agents.networks import sequential

    layers = []
    if settings.observation_scale is not None:
        # Bring every observation to about [-1, 1]: CartPole's pole angle (±0.21 rad) is
        # tiny next to its cart position (±2.4), yet it matters most for balancing.
        scale = [1.0 / magnitude for magnitude in settings.observation_scale]
        layers.append(tf.keras.layers.Rescaling(scale))

    if settings.init == "tutorial":  # the tutorial's choice: He init, small initial Q-values

        def hidden_init():  # a fresh initializer per layer, so layers start different
            return tf.keras.initializers.VarianceScaling(
                scale=2.0, mode="fan_in", distribution="truncated_normal"
            )

        output_init = tf.keras.initializers.RandomUniform(minval=-0.03, maxval=0.03)
        output_bias = tf.keras.initializers.Constant(-0.2)
    else:  # Keras's defaults: Glorot uniform weights, zero biases

        def hidden_init():
            return "glorot_uniform"

        output_init, output_bias = "glorot_uniform", "zeros"
    hidden = [
        tf.keras.layers.Dense(units, activation="relu", kernel_initializer=hidden_init())
        for units in settings.hidden_layers
    ]
    q_values = tf.keras.layers.Dense(
        num_actions, kernel_initializer=output_init, bias_initializer=output_bias
    )
    return sequential.Sequential([*layers, *hidden, q_values])


def build_agent(settings: DqnSettings, env):
    """A ``DqnAgent`` for ``env`` (a Python or TF environment), built from ``settings``."""
    import tensorflow as tf
    from tf_agents.agents.dqn import dqn_agent
    from tf_agents.specs import tensor_spec
    from tf_agents.utils import common

    time_step_spec = tensor_spec.from_spec(env.time_step_spec())
    action_spec = tensor_spec.from_spec(env.action_spec())
    num_actions = int(action_spec.maximum - action_spec.minimum + 1)

    # Counts train steps; int64 works on every TensorFlow version.
    train_step_counter = tf.Variable(0, dtype=tf.int64, name="train_step_counter")
    # Exploration: epsilon falls linearly from epsilon_start to epsilon_end, then stays.
    epsilon = tf.keras.optimizers.schedules.PolynomialDecay(
        settings.epsilon_start, settings.epsilon_decay_steps, settings.epsilon_end
    )
    loss_fn = {
        "squared": common.element_wise_squared_loss,
        "huber": common.element_wise_huber_loss,
    }[settings.loss]

    agent = dqn_agent.DqnAgent(
        time_step_spec,
        action_spec,
        q_network=build_q_network(settings, num_actions),
        optimizer=tf.keras.optimizers.Adam(learning_rate=settings.learning_rate),
        td_errors_loss_fn=loss_fn,
        gamma=settings.gamma,
        target_update_period=settings.target_update_period,
        gradient_clipping=settings.gradient_clipping,
        epsilon_greedy=lambda: epsilon(train_step_counter),
        train_step_counter=train_step_counter,
    )
    agent.initialize()
    return agent


@dataclass
class History:
    """What happened during :func:`train`: evaluations, losses, and whether it solved."""

    settings: str
    # One entry per quick evaluation.
    eval_iterations: list[int] = field(default_factory=list)
    eval_env_steps: list[int] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)  # since the start of training
    eval_returns: list[float] = field(default_factory=list)  # mean of the finished episodes
    eval_complete: list[bool] = field(default_factory=list)  # False: stopped early
    # One entry per full evaluation: (iteration, env steps, mean return).
    full_evals: list[tuple[int, int, float]] = field(default_factory=list)
    # The loss of the last train step of every iteration.
    losses: list[float] = field(default_factory=list)
    loss_env_steps: list[int] = field(default_factory=list)
    solved: bool = False
    solved_return: float | None = None
    seconds_to_solve: float | None = None
    env_steps_to_solve: int | None = None
    iterations: int = 0
    env_steps: int = 0
    train_steps: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(
        default_factory=lambda: {"collect": 0.0, "train": 0.0, "evaluate": 0.0}
    )

    @property
    def env_steps_per_second(self) -> float:
        """Environment steps per second of the whole loop (training and evaluation)."""
        return self.env_steps / self.seconds if self.seconds else math.nan

    def summary(self) -> str:
        """One line: solved or not, how fast, where the time went."""
        from utils.report import training_outcome

        outcome = training_outcome(
            self.solved,
            solved_return=self.solved_return,
            env_steps_to_solve=self.env_steps_to_solve,
            seconds_to_solve=self.seconds_to_solve,
            env_steps=self.env_steps,
            timings=self.timings,
        )
        return f"{self.settings}: {outcome}"


def train(agent, env, replay, settings: DqnSettings, *, seed: int = 0, progress: bool = True):
    """Collect with PyDriver into the replay, train from it, evaluate, stop once solved.

    Taught in notebook 02. Returns a :class:`History`. When the full evaluation passes,
    training stops at once, so ``agent.policy`` is the policy that solved the task. The full
    evaluation is always "batched" (see :func:`greedy_check`), so ``settings.env_name`` must
    be a registered Gym id with vector observations and discrete actions.
    """
    import tensorflow as tf
    from tf_agents.drivers import py_driver
    from tf_agents.policies import py_tf_eager_policy, random_py_policy
    from tqdm.auto import tqdm

    start = time.perf_counter()
    history = History(settings.name)
    clock = history.timings

    # 1. Fill the replay with random play: the agent knows nothing yet.
    random_policy = random_py_policy.RandomPyPolicy(
        env.time_step_spec(), env.action_spec(), seed=seed
    )
    random_driver = py_driver.PyDriver(
        env, random_policy, [replay.observer], max_steps=settings.initial_collect_steps
    )
    with Stopwatch(clock, "collect"):
        time_step, _ = random_driver.run(env.reset())
    env_steps = settings.initial_collect_steps

    # 2. The collect driver plays the agent's epsilon-greedy policy; its observer writes
    #    every step into Reverb.
    collect_policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True)
    collect_driver = py_driver.PyDriver(
        env, collect_policy, [replay.observer], max_steps=settings.collect_steps_per_iteration
    )

    # 3. Reverb hands out samples one at a time (~50 µs each), so every iteration draws all
    #    it trains on at once: `sample_size` 2-step transitions, prefetched while collecting.
    samples = iter(replay.dataset(settings.sample_size, num_steps=2, prefetch=1))

    # 4. One train step on one minibatch of that draw. Tracing agent.train without
    #    autograph takes about a second instead of six.
    def train_on(sample, indices):
        minibatch = tf.nest.map_structure(lambda t: tf.gather(t, indices), sample)
        return agent.train(minibatch).loss

    train_step = tf.function(train_on, autograph=False)

    # 5. Evaluation plays the greedy policy (agent.policy): a quick check every
    #    `eval_interval` iterations, played the way `settings.evaluation` says, and the full
    #    check (fresh episodes, one Gym environment each, all stepped together) only when
    #    the quick one passes.
    quick_check = greedy_check(
        agent, settings, settings.eval_episodes, style=settings.evaluation, seed=1000 * seed + 1
    )
    full_check = greedy_check(
        agent, settings, settings.solve_episodes, style="batched", seed=1000 * seed + 500
    )

    bar = tqdm(range(1, settings.num_iterations + 1), desc=settings.name, disable=not progress)
    last_eval = "-"
    for iteration in bar:
        with Stopwatch(clock, "collect"):
            time_step, _ = collect_driver.run(time_step)
            env_steps += settings.collect_steps_per_iteration

        with Stopwatch(clock, "train"):
            sample, _ = next(samples)
            for k in range(settings.train_steps_per_iteration):
                # Reverb drew the sample uniformly at random, so consecutive slices of it
                # are random minibatches (reused when sample_size < steps x batch_size).
                first = k * settings.batch_size
                indices = np.arange(first, first + settings.batch_size) % settings.sample_size
                loss = train_step(sample, indices)
            loss = float(loss)  # the last train step's loss
            history.losses.append(loss)
            history.loss_env_steps.append(env_steps)

        if iteration % settings.eval_interval == 0:
            with Stopwatch(clock, "evaluate"):
                check = quick_check()
                history.eval_iterations.append(iteration)
                history.eval_env_steps.append(env_steps)
                history.eval_seconds.append(time.perf_counter() - start)
                history.eval_returns.append(check.mean)
                history.eval_complete.append(check.complete)
                last_eval = f"{check.mean:.0f}" + ("" if check.complete else "*")
                full = None
                if check.reaches(settings.target_return):
                    full = full_check()
                    history.full_evals.append((iteration, env_steps, full.mean))
            if full is not None and full.reaches(settings.target_return):
                history.solved = True
                history.solved_return = full.mean
                history.seconds_to_solve = time.perf_counter() - start
                history.env_steps_to_solve = env_steps
                last_eval = "solved"
                bar.set_postfix({"step": env_steps, "loss": f"{loss:.3g}", "eval": last_eval})
                break  # stop here, so the agent keeps the policy that solved the task

        postfix = {"step": env_steps, "loss": f"{loss:.3g}", "eval": last_eval}
        bar.set_postfix(postfix, refresh=False)

    bar.close()
    history.iterations = iteration
    history.env_steps = env_steps
    history.train_steps = int(agent.train_step_counter.numpy())
    history.seconds = time.perf_counter() - start
    return history


def train_from_scratch(settings: DqnSettings, *, seed: int = 0, progress: bool = True):
    """Seed everything, build environment, agent and replay, train; return (agent, history)."""
    import tensorflow as tf

    from utils.replay import make_replay

    tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    env = make_env(settings, seed=seed)
    agent = build_agent(settings, env)
    with make_replay(agent.collect_data_spec, settings.replay_capacity) as replay:
        history = train(agent, env, replay, settings, seed=seed, progress=progress)
    return agent, history
