"""DQN that never leaves TensorFlow: in-graph CartPoles, an in-graph replay, one call per iteration.

Taught in notebook 09, timed by ``benchmarks/fast_dqn.py``. Everything the training loop
touches lives in ``tf.Variable``s: a batch of CartPoles (``utils.envs.tf_cartpole``), a replay ring
buffer, a Q-network and its target network, and the Adam optimizer's moments. One
``tf.function`` (optionally compiled with XLA) runs a whole iteration: ``collect_steps_per_env``
collect steps (an epsilon-greedy action in each of ``num_envs`` environments, written into the
ring buffer), then ``train_steps_per_iteration`` train steps (a DQN update on a random
minibatch). Evaluation is another compiled function: 100 fresh CartPoles, played greedily side
by side until each episode ends or reaches 500 steps, which is Gym's rule for "solved".

The collect step and the train step, and the pieces they are made of, are notebook 09's cells
(the generated block below); :class:`FastDqn` holds the variables and loops over whichever
collect and train steps it is given, so a notebook can pass its own. Python only loops over
iterations and reads back one number per call.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from utils import envs
from utils.envs import CARTPOLE_OBSERVATION_SCALE
from utils.infra import report
from utils.infra.report import Stopwatch
from utils.infra.runtime import LazyModule
from utils.rl.evaluation import EvalResult, evaluate_gym
from utils.rl.losses import elementwise_loss  # notebook 07's Huber loss
from utils.rl.training import History, Settings, SolveCheck

tf = LazyModule("tensorflow")  # imported at first use, after the notebook's setup cell
tf_cartpole = LazyModule("utils.envs.tf_cartpole")  # imports TensorFlow and TF-Agents


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


# --- the pieces of the algorithm, as notebook 09 teaches them ---------------------------------

# BEGIN generated from notebooks/09_training_fast.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def epsilon(settings, env_steps):
    """ε after ``env_steps`` environment steps: linear from start to end, then constant."""
    fraction = tf.minimum(tf.cast(env_steps, tf.float32) / settings.epsilon_decay_env_steps, 1.0)
    return settings.epsilon_start + fraction * (settings.epsilon_end - settings.epsilon_start)


def epsilon_greedy(agent, observation):
    """Actions [B] for observations [B, 4]: random with probability ε, otherwise greedy.

    While the replay holds fewer than ``initial_collect_steps`` transitions, all are random.
    """
    s, size = agent.settings, observation.shape[0]
    explore = agent.generator.uniform([size]) < epsilon(s, agent.env_steps)
    explore = explore | (agent.replay_size < s.initial_collect_steps)
    random_action = agent.generator.uniform([size], 0, 2, dtype=tf.int32)
    return tf.where(explore, random_action, agent.greedy_actions(observation))


def store_transitions(agent, transitions):
    """Write a batch of transitions into the ring buffer's next rows, wrapping around.

    ``transitions`` maps replay columns to one value per environment: ``{name: [B, ...]}``.
    """
    capacity, size = agent.settings.replay_capacity, transitions["action"].shape[0]
    rows = ((agent.replay_next + tf.range(size)) % capacity)[:, None]  # [B, 1] row numbers
    for name, values in transitions.items():
        agent.replay[name].scatter_nd_update(rows, values)
    agent.replay_next.assign((agent.replay_next + size) % capacity)
    agent.replay_size.assign(tf.minimum(agent.replay_size + size, capacity))


def collect_step(agent):
    """One ε-greedy step of every training CartPole, stored in the replay; returns the actions.

    Terminated (the pole fell, the cart left): discount 0, nothing follows. Truncated (the
    500-step limit): discount 1, the state still had a future.
    """
    s = agent.settings
    observation = agent.env_state.read_value()
    action = epsilon_greedy(agent, observation)
    out = tf_cartpole.autoreset_step(
        observation, agent.env_steps_in_episode, action, agent.generator, s.max_episode_steps
    )
    transitions = {
        "observation": observation,
        "action": action,
        "reward": out["reward"],
        "next_observation": out["next_observation"],  # before any restart
        "discount": tf.where(out["terminated"], 0.0, 1.0),
    }
    store_transitions(agent, transitions)
    agent.env_state.assign(out["state"])  # a fresh start state where an episode ended
    agent.env_steps_in_episode.assign(out["steps"])
    agent.env_steps.assign_add(s.num_envs)
    return action


def sample_minibatch(agent):
    """``batch_size`` stored transitions drawn uniformly (with replacement), column by column."""
    size = agent.settings.batch_size
    index = agent.generator.uniform([size], 0, agent.replay_size, dtype=tf.int32)
    return {name: tf.gather(column, index) for name, column in agent.replay.items()}


def td_targets(agent, batch):
    """y = r + γ · discount · max_a' Q_target(s', a'), the discount 0 only where it terminated."""
    next_q = agent.q_values(batch["next_observation"], agent.target_params)
    best_next = tf.reduce_max(next_q, axis=-1)
    return batch["reward"] + agent.settings.gamma * batch["discount"] * best_next


def td_loss(agent, batch, targets):
    """Mean Huber loss of the TD errors y - Q(s, a) over a minibatch (a: the action taken)."""
    q = agent.q_values(batch["observation"])
    q_taken = tf.gather(q, batch["action"], axis=1, batch_dims=1)
    return tf.reduce_mean(elementwise_loss(tf.stop_gradient(targets) - q_taken, "huber"))


def sync_target(agent):
    """Copy the Q-network into the target network every ``target_update_period`` train steps."""
    sync = tf.equal(agent.train_steps % agent.settings.target_update_period, 0)
    for target_p, p in zip(agent.target_params, agent.params, strict=True):
        target_p.assign(tf.where(sync, p, target_p))


def train_step(agent):
    """One DQN update on a random minibatch; returns its loss (before the update)."""
    batch = sample_minibatch(agent)
    targets = td_targets(agent, batch)
    with tf.GradientTape() as tape:
        loss = td_loss(agent, batch, targets)
    grads = tape.gradient(loss, agent.params)
    grads, _ = tf.clip_by_global_norm(grads, agent.settings.gradient_clipping)
    agent.apply_gradients(grads)  # Adam; counts agent.train_steps
    sync_target(agent)
    return loss


def iterate(agent):
    """One iteration in the graph: collect steps, then train steps once the replay is warm.

    Returns the train steps' mean loss, or NaN while the replay is still filling.
    """
    s = agent.settings

    def collect_body(i):
        agent.collect_fn(agent)
        return (i + 1,)

    tf.while_loop(lambda i: i < s.collect_steps_per_env, collect_body, (tf.constant(0),))

    def train_body(i, total):
        return i + 1, total + agent.train_fn(agent)

    def train():
        start = (tf.constant(0), tf.constant(0.0))
        _, total = tf.while_loop(lambda i, _: i < s.train_steps_per_iteration, train_body, start)
        return total / s.train_steps_per_iteration

    warm = agent.replay_size >= s.initial_collect_steps
    return tf.cond(warm, train, lambda: tf.constant(float("nan")))


# END generated from notebooks/09_training_fast.ipynb


# --- the agent: its variables, the loop over the pieces, and evaluation ------------------------


class FastDqn:
    """The in-graph DQN: variables and two compiled functions, ``iterate`` and ``evaluate``.

    ``collect_fn`` and ``train_fn`` are the collect step and the train step, functions of the
    agent (default: this module's :func:`collect_step` and :func:`train_step`);
    ``iterate_fn`` (default :func:`iterate`) runs ``collect_steps_per_env`` of the first, then
    ``train_steps_per_iteration`` of the second, and ``iterate`` compiles it into one
    ``tf.function``.
    """

    def __init__(
        self,
        settings: FastDqnSettings = FAST,
        *,
        seed: int = 0,
        collect_fn=None,
        train_fn=None,
        iterate_fn=None,
    ) -> None:
        self.settings = s = settings
        self.seed = seed
        self.collect_fn = collect_fn or collect_step
        self.train_fn = train_fn or train_step
        self.iterate_fn = iterate_fn or iterate
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
        # Adam's moments: running averages of each gradient and of its square.
        self.adam_m = [tf.Variable(tf.zeros_like(p)) for p in self.params]
        self.adam_v = [tf.Variable(tf.zeros_like(p)) for p in self.params]
        self.train_steps = tf.Variable(0, dtype=tf.int64, name="train_steps")
        # The replay ring buffer: one row per transition.
        c = s.replay_capacity
        self.replay = {
            "observation": tf.Variable(tf.zeros([c, 4]), name="replay_observation"),
            "action": tf.Variable(tf.zeros([c], tf.int32), name="replay_action"),
            "reward": tf.Variable(tf.zeros([c]), name="replay_reward"),
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

    # --- the network and its optimizer ----------------------------------------------------------

    def q_values(self, observation, params=None):
        """Q-values [B, 2] of observations [B, 4] (the target network's when given its params)."""
        params = self.params if params is None else params
        x = observation / tf.constant(self.settings.observation_scale, tf.float32)
        for i in range(0, len(params), 2):
            x = tf.matmul(x, params[i]) + params[i + 1]
            if i + 2 < len(params):
                x = tf.nn.relu(x)
        return x

    def greedy_actions(self, observation):
        """The greedy policy: the action with the larger Q-value."""
        return tf.argmax(self.q_values(observation), axis=-1, output_type=tf.int32)

    def apply_gradients(self, grads) -> None:
        """One Adam step on the Q-network (Keras' ``Adam`` rule, epsilon 1e-7); counts it."""
        self.train_steps.assign_add(1)
        t = tf.cast(self.train_steps, tf.float32)
        b1, b2 = 0.9, 0.999
        step_size = self.settings.learning_rate * tf.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        for p, m, v, g in zip(self.params, self.adam_m, self.adam_v, grads, strict=True):
            m.assign(b1 * m + (1 - b1) * g)
            v.assign(b2 * v + (1 - b2) * g * g)
            p.assign_sub(step_size * m / (tf.sqrt(v) + 1e-7))

    # --- one iteration: the collect steps, then the train steps ---------------------------------

    def _iterate(self):
        return self.iterate_fn(self)  # notebook 09's `iterate`, or the one a notebook passes

    # --- evaluation: Gym's rule, in the graph --------------------------------------------------

    def _evaluate(self):
        """Mean return of ``solve_episodes`` greedy episodes from fresh starts, capped at 500 steps.

        Stops early (complete=False) once the target is out of reach even if every running
        episode lasted to the limit.
        """
        s = self.settings
        n = s.solve_episodes
        state = tf_cartpole.reset_states(self.eval_generator, n)
        needed = s.target_return * n

        def reachable(returns, alive):
            best = tf.reduce_sum(returns) + tf.reduce_sum(
                tf.where(alive, float(s.max_episode_steps) - returns, 0.0)
            )
            return best >= needed

        def cond(t, state, returns, alive):
            return (t < s.max_episode_steps) & tf.reduce_any(alive) & reachable(returns, alive)

        def body(t, state, returns, alive):
            next_state, terminated = tf_cartpole.physics_step(state, self.greedy_actions(state))
            returns = returns + tf.cast(alive, tf.float32)  # reward 1 per step, terminal included
            return t + 1, next_state, returns, alive & ~terminated

        start = (tf.constant(0), state, tf.zeros([n]), tf.ones([n], tf.bool))
        _, _, returns, alive = tf.while_loop(cond, body, start)
        return tf.reduce_mean(returns), reachable(returns, alive), returns

    def _build_functions(self, jit_compile: bool) -> None:
        self.iterate = tf.function(self._iterate, jit_compile=jit_compile, autograph=False)
        self.evaluate = tf.function(self._evaluate, jit_compile=jit_compile, autograph=False)
        self.jit_compile = jit_compile


def train(
    settings: FastDqnSettings = FAST,
    *,
    seed: int = 0,
    collect_fn=None,
    train_fn=None,
    iterate_fn=None,
    progress: bool = True,
    verbose: bool = True,
) -> tuple[FastDqn, FastHistory]:
    """Build a :class:`FastDqn` and train it until the 100-episode evaluation passes.

    ``collect_fn``, ``train_fn`` and ``iterate_fn`` replace this module's :func:`collect_step`,
    :func:`train_step` and :func:`iterate`: a notebook passes its own cells' versions, so what
    it edits is what trains. The clock starts before the variables are created, so tracing and
    XLA compilation count. If XLA fails here, it prints a note and falls back to plain
    ``tf.function`` graphs. Training stops at the first passing evaluation: the returned agent
    is the one that solved.
    """
    start = time.perf_counter()
    tf.random.set_seed(seed)
    pieces = {"collect_fn": collect_fn, "train_fn": train_fn, "iterate_fn": iterate_fn}
    agent = FastDqn(settings, seed=seed, **pieces)
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
        agent = FastDqn(settings.replace(jit_compile=False), seed=seed, **pieces)
        history.jit_compile = False
        loss = float(agent.iterate())
    history.first_call_seconds = time.perf_counter() - start

    def full_check() -> EvalResult:  # Gym's rule, played in the graph
        mean, complete, _ = agent.evaluate()
        return EvalResult(float(mean), [], s.solve_episodes, complete=bool(complete))

    solved = SolveCheck(history, quick=full_check, full=None, target=s.target_return, start=start)
    bar = report.progress_bar(
        range(1, iterations + 1), desc=f"fast DQN seed {seed}", disable=not progress
    )
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
    solved.progress(bar, env_steps, loss, close=True)
    history.finish(
        start,
        iterations=iteration,
        env_steps=agent.env_steps.numpy(),
        train_steps=agent.train_steps.numpy(),
    )
    return agent, history


def gym_evaluate(
    agent: FastDqn, episodes: int = 100, *, seed: int = 0, env_name: str = "CartPole-v1"
) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes in real Gym environments (with Gym's TimeLimit).

    One environment per episode, env ``i`` reset with ``seed + i``, all stepped together by
    :func:`utils.rl.evaluation.evaluate_gym`; the returns come in the order the episodes ended.
    """
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
