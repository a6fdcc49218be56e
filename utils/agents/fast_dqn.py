"""DQN that never leaves TensorFlow: in-graph CartPoles, an in-graph replay, one call per iteration.

Taught in notebook 09, timed by ``benchmarks/fast_dqn.py``. Everything the training loop
touches lives in ``tf.Variable``s: a batch of CartPoles (``utils.envs.tf_cartpole``), a replay ring
buffer, a Q-network and its target network, and the Adam optimizer's moments. One
``tf.function`` (optionally compiled with XLA) runs a whole iteration: collect
``collect_steps`` steps in each of ``num_envs`` environments with the epsilon-greedy policy,
write them into the ring buffer, then run ``train_steps`` DQN updates on random minibatches.
Evaluation is another compiled function: 100 fresh CartPoles, played greedily side by side
until each episode ends or reaches 500 steps, which is Gym's rule for "solved".

Python only loops over iterations and reads back one number per call.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from utils import envs
from utils.envs import CARTPOLE_OBSERVATION_SCALE
from utils.infra.report import Stopwatch
from utils.rl.evaluation import EvalResult, evaluate_gym
from utils.rl.training import History, Settings, SolveCheck


@dataclass(frozen=True, kw_only=True)
class FastDqnSettings(Settings):
    """Hyperparameters of :func:`train` (defaults: tuned to solve CartPole-v1 in seconds).

    Names follow notebook 03's ``DqnSettings``; what differs is said in the comments.
    """

    # Environments: `num_envs` CartPoles step side by side; each iteration collects
    # `collect_steps_per_env` steps in each of them.
    num_envs: int = 16
    collect_steps_per_env: int = 16
    # Learning: this many updates per iteration on minibatches of `batch_size`.
    train_steps_per_iteration: int = 64
    batch_size: int = 64
    hidden_layers: tuple[int, ...] = (64, 64)
    observation_scale: tuple[float, ...] = CARTPOLE_OBSERVATION_SCALE
    learning_rate: float = 2e-3
    gamma: float = 0.99
    target_update_period: int = 128  # train steps between target-network syncs
    gradient_clipping: float = 10.0  # largest global gradient norm
    replay_capacity: int = 50_000
    initial_collect_steps: int = 1_000  # random-policy transitions before the first train step
    # Exploration: epsilon falls linearly over `epsilon_decay_env_steps` environment steps
    # (notebook 03 counts train steps instead).
    epsilon_start: float = 1.0
    epsilon_end: float = 0.04
    epsilon_decay_env_steps: int = 10_000
    # Schedule and the "solved" rule: no quick check here, every check is the full one.
    max_env_steps: int = 300_000  # give up after this many environment steps
    eval_interval: int = 1  # iterations between evaluations
    solve_episodes: int = 100  # Gym's rule: average over 100 episodes ...
    target_return: float = 475.0  # ... of at least 475 (CartPole-v1)
    max_episode_steps: int = 500  # CartPole-v1's time limit
    # Compile with XLA (falls back to plain graphs if it fails). Off by default: XLA runs an
    # iteration a little faster but takes seconds to compile, longer than training here.
    jit_compile: bool = False

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        self.require_whole(
            "num_envs",
            "collect_steps_per_env",
            "train_steps_per_iteration",
            "batch_size",
            "replay_capacity",
            "eval_interval",
            "solve_episodes",
            "target_update_period",
            "max_env_steps",
            "max_episode_steps",
            "epsilon_decay_env_steps",
        )
        self.require_whole("initial_collect_steps", minimum=0)
        self.require_sizes("hidden_layers")
        self.require_positive("learning_rate", "gradient_clipping")
        self.require_between("gamma", "epsilon_start", "epsilon_end")
        self.require_scales("observation_scale")
        if len(self.observation_scale) != 4:
            raise ValueError("observation_scale needs one value per CartPole observation (4).")
        if self.replay_capacity < self.num_envs * self.collect_steps_per_env:
            per_iteration = self.num_envs * self.collect_steps_per_env
            raise ValueError(
                "replay_capacity must hold at least one iteration of collection "
                f"(num_envs * collect_steps_per_env = {per_iteration})."
            )


FAST = FastDqnSettings()


def _fast_timings() -> dict[str, float]:
    return {"collect + train": 0.0, "evaluate": 0.0}


@dataclass
class FastHistory(History):
    """What happened during :func:`train`; ``History`` holds what every trainer records."""

    seed: int = 0
    jit_compile: bool = False
    first_call_seconds: float = 0.0  # tracing + compiling + running the first iteration
    timings: dict[str, float] = field(default_factory=_fast_timings)

    def summary(self) -> str:
        """One line: solved or not, how fast, where the time went, and the compile time."""
        mode = "XLA" if self.jit_compile else "graph"
        return (
            f"seed {self.seed} ({mode}): {super().summary()}; "
            f"first call incl. compiling {self.first_call_seconds:.1f} s"
        )


class FastDqn:
    """The in-graph DQN: variables and two compiled functions, ``iterate`` and ``evaluate``."""

    def __init__(self, settings: FastDqnSettings = FAST, *, seed: int = 0) -> None:
        import tensorflow as tf

        from utils.envs import tf_cartpole

        self.settings = s = settings
        self.seed = seed
        self._tf, self._cp = tf, tf_cartpole
        self.generator = tf.random.Generator.from_seed(seed)
        self.eval_generator = tf.random.Generator.from_seed(seed + 1_000_003)
        # Q-network and target network: Dense layers as plain variables (Glorot uniform).
        sizes = (4, *s.hidden_layers, 2)
        self.params, self.target_params = [], []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            limit = math.sqrt(6.0 / (n_in + n_out))
            w = tf.Variable(self.generator.uniform([n_in, n_out], -limit, limit), name=f"w{i}")
            b = tf.Variable(tf.zeros([n_out]), name=f"b{i}")
            self.params += [w, b]
            self.target_params += [
                tf.Variable(w, name=f"target_w{i}"),
                tf.Variable(b, name=f"target_b{i}"),
            ]
        # Adam's moments.
        self.adam_m = [tf.Variable(tf.zeros_like(p)) for p in self.params]
        self.adam_v = [tf.Variable(tf.zeros_like(p)) for p in self.params]
        self.train_step = tf.Variable(0, dtype=tf.int64, name="train_step")
        # The replay ring buffer: one row per transition.
        c = s.replay_capacity
        self.replay = {
            "observation": tf.Variable(tf.zeros([c, 4]), name="replay_observation"),
            "action": tf.Variable(tf.zeros([c], tf.int32), name="replay_action"),
            "next_observation": tf.Variable(tf.zeros([c, 4]), name="replay_next_observation"),
            "discount": tf.Variable(tf.zeros([c]), name="replay_discount"),  # 0: terminated
        }
        self.replay_size = tf.Variable(0, dtype=tf.int32, name="replay_size")
        self.replay_next = tf.Variable(0, dtype=tf.int32, name="replay_next")
        # The training environments.
        self.env_state = tf.Variable(tf_cartpole.reset_states(self.generator, s.num_envs))
        self.env_steps_in_episode = tf.Variable(tf.zeros([s.num_envs], tf.int32))
        self.env_steps = tf.Variable(0, dtype=tf.int64, name="env_steps")
        self.jit_compile = s.jit_compile
        self._build_functions(s.jit_compile)

    # --- the network -------------------------------------------------------------------

    def q_values(self, observation, params=None):
        """Q-values [B, 2] of observations [B, 4] (the target network's when given its params)."""
        tf = self._tf
        params = self.params if params is None else params
        x = observation / tf.constant(self.settings.observation_scale, tf.float32)
        for i in range(0, len(params), 2):
            x = tf.matmul(x, params[i]) + params[i + 1]
            if i + 2 < len(params):
                x = tf.nn.relu(x)
        return x

    def greedy_actions(self, observation):
        """The greedy policy: the action with the larger Q-value."""
        return self._tf.argmax(self.q_values(observation), axis=-1, output_type=self._tf.int32)

    # --- one iteration: collect, then train ------------------------------------------------

    def _epsilon(self):
        tf, s = self._tf, self.settings
        fraction = tf.minimum(tf.cast(self.env_steps, tf.float32) / s.epsilon_decay_env_steps, 1.0)
        return s.epsilon_start + fraction * (s.epsilon_end - s.epsilon_start)

    def _collect_step(self):
        tf, s = self._tf, self.settings
        observation = self.env_state.read_value()
        explore = self.generator.uniform([s.num_envs]) < self._epsilon()
        explore = explore | (self.replay_size < s.initial_collect_steps)  # random play at first
        random_action = self.generator.uniform([s.num_envs], 0, 2, dtype=tf.int32)
        action = tf.where(explore, random_action, self.greedy_actions(observation))
        out = self._cp.autoreset_step(
            observation, self.env_steps_in_episode, action, self.generator, s.max_episode_steps
        )
        rows = (self.replay_next + tf.range(s.num_envs)) % s.replay_capacity
        rows = rows[:, None]
        self.replay["observation"].scatter_nd_update(rows, observation)
        self.replay["action"].scatter_nd_update(rows, action)
        self.replay["next_observation"].scatter_nd_update(rows, out["next_observation"])
        discount = tf.where(out["terminated"], 0.0, 1.0)  # truncation keeps discount 1
        self.replay["discount"].scatter_nd_update(rows, discount)
        self.replay_next.assign((self.replay_next + s.num_envs) % s.replay_capacity)
        self.replay_size.assign(tf.minimum(self.replay_size + s.num_envs, s.replay_capacity))
        self.env_state.assign(out["state"])
        self.env_steps_in_episode.assign(out["steps"])
        self.env_steps.assign_add(s.num_envs)

    def _train_step(self):
        tf, s = self._tf, self.settings
        index = self.generator.uniform([s.batch_size], 0, self.replay_size, dtype=tf.int32)
        batch = {k: tf.gather(v, index) for k, v in self.replay.items()}
        next_q = self.q_values(batch["next_observation"], self.target_params)
        target = 1.0 + s.gamma * batch["discount"] * tf.reduce_max(next_q, axis=-1)
        with tf.GradientTape() as tape:
            q = self.q_values(batch["observation"])
            q_taken = tf.gather(q, batch["action"], axis=1, batch_dims=1)
            error = tf.stop_gradient(target) - q_taken
            loss = tf.reduce_mean(
                tf.where(tf.abs(error) < 1.0, 0.5 * error**2, tf.abs(error) - 0.5)
            )
        grads = tape.gradient(loss, self.params)
        grads, _ = tf.clip_by_global_norm(grads, s.gradient_clipping)
        self.train_step.assign_add(1)
        t = tf.cast(self.train_step, tf.float32)
        b1, b2 = 0.9, 0.999
        step_size = s.learning_rate * tf.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        for p, m, v, g in zip(self.params, self.adam_m, self.adam_v, grads, strict=True):
            m.assign(b1 * m + (1 - b1) * g)
            v.assign(b2 * v + (1 - b2) * g * g)
            p.assign_sub(step_size * m / (tf.sqrt(v) + 1e-7))
        sync = tf.equal(self.train_step % s.target_update_period, 0)
        for target_p, p in zip(self.target_params, self.params, strict=True):
            target_p.assign(tf.where(sync, p, target_p))
        return loss

    def _iterate(self):
        tf, s = self._tf, self.settings

        def collect_body(i):
            self._collect_step()
            return (i + 1,)

        tf.while_loop(lambda i: i < s.collect_steps_per_env, collect_body, (tf.constant(0),))

        def train_body(i, total):
            return i + 1, total + self._train_step()

        def train():
            _, total = tf.while_loop(
                lambda i, _: i < s.train_steps_per_iteration,
                train_body,
                (tf.constant(0), tf.constant(0.0)),
            )
            return total / s.train_steps_per_iteration

        return tf.cond(
            self.replay_size >= s.initial_collect_steps, train, lambda: tf.constant(math.nan)
        )

    # --- evaluation: Gym's rule, in the graph --------------------------------------------------

    def _evaluate(self):
        """Mean return of ``solve_episodes`` greedy episodes from fresh starts, capped at 500 steps.

        Stops early (complete=False) once the target is out of reach even if every running
        episode lasted to the limit.
        """
        tf, s = self._tf, self.settings
        n = s.solve_episodes
        state = self._cp.reset_states(self.eval_generator, n)
        needed = s.target_return * n

        def reachable(returns, alive):
            best = tf.reduce_sum(returns) + tf.reduce_sum(
                tf.where(alive, float(s.max_episode_steps) - returns, 0.0)
            )
            return best >= needed

        def cond(t, state, returns, alive):
            return (t < s.max_episode_steps) & tf.reduce_any(alive) & reachable(returns, alive)

        def body(t, state, returns, alive):
            next_state, terminated = self._cp.physics_step(state, self.greedy_actions(state))
            returns = returns + tf.cast(alive, tf.float32)  # reward 1 per step, terminal included
            return t + 1, next_state, returns, alive & ~terminated

        start = (tf.constant(0), state, tf.zeros([n]), tf.ones([n], tf.bool))
        _, _, returns, alive = tf.while_loop(cond, body, start)
        return tf.reduce_mean(returns), reachable(returns, alive), returns

    def _build_functions(self, jit_compile: bool) -> None:
        tf = self._tf
        self.iterate = tf.function(self._iterate, jit_compile=jit_compile, autograph=False)
        self.evaluate = tf.function(self._evaluate, jit_compile=jit_compile, autograph=False)
        self.jit_compile = jit_compile


def train(
    settings: FastDqnSettings = FAST, *, seed: int = 0, progress: bool = True, verbose: bool = True
) -> tuple[FastDqn, FastHistory]:
    """Build a :class:`FastDqn` and train it until the 100-episode evaluation passes.

    The clock starts before the variables are created, so tracing and XLA compilation count.
    If XLA fails here, it prints a note and falls back to plain ``tf.function`` graphs.
    Training stops at the first passing evaluation: the returned agent is the one that solved.
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    start = time.perf_counter()
    tf.random.set_seed(seed)
    agent = FastDqn(settings, seed=seed)
    history = FastHistory(seed=seed, jit_compile=agent.jit_compile)
    s = settings
    per_iteration = s.num_envs * s.collect_steps_per_env
    iterations = math.ceil(s.max_env_steps / per_iteration)
    try:
        loss = float(agent.iterate())
    except Exception as error:
        if not agent.jit_compile:
            raise
        if verbose:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            print(f"Note: XLA compilation failed ({first[:160]}); using plain tf.function graphs.")
        agent = FastDqn(settings.replace(jit_compile=False), seed=seed)
        history.jit_compile = False
        loss = float(agent.iterate())
    history.first_call_seconds = time.perf_counter() - start

    def full_check() -> EvalResult:  # Gym's rule, played in the graph
        mean, complete, _ = agent.evaluate()
        return EvalResult(float(mean), [], s.solve_episodes, complete=bool(complete))

    solved = SolveCheck(history, quick=full_check, full=None, target=s.target_return, start=start)
    bar = tqdm(range(1, iterations + 1), desc=f"fast DQN seed {seed}", disable=not progress)
    for iteration in bar:
        with Stopwatch(history.timings, "collect + train"):
            if iteration > 1:
                loss = float(agent.iterate())
        env_steps = iteration * per_iteration
        if not math.isnan(loss):
            history.record_loss(env_steps, loss)
        if iteration % s.eval_interval or math.isnan(loss):
            continue
        if solved(env_steps):
            break
        solved.progress(bar, env_steps, loss)
    bar.close()
    history.finish(
        start,
        iterations=iteration,
        env_steps=agent.env_steps.numpy(),
        train_steps=agent.train_step.numpy(),
    )
    return agent, history


def gym_evaluate(
    agent: FastDqn, episodes: int = 100, *, seed: int = 0, env_name: str = "CartPole-v1"
) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes in real Gym environments (with Gym's TimeLimit).

    One environment per episode, env ``i`` reset with ``seed + i``, all stepped together by
    :func:`utils.rl.evaluation.evaluate_gym`; the returns come in the order the episodes ended.
    """
    import tensorflow as tf

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1; got {episodes!r}.")
    games = [envs.make_gym_env(env_name) for _ in range(episodes)]
    size = games[0].observation_space.shape[0]
    greedy = tf.function(
        agent.greedy_actions,
        autograph=False,
        input_signature=[tf.TensorSpec([None, size], tf.float32)],  # one trace, any batch
    )
    result = evaluate_gym(
        games, lambda observations: greedy(observations).numpy(), episodes, seed=seed
    )
    return np.asarray(result.returns)
