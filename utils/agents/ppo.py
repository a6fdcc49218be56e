"""PPO with TF-Agents: settings, the agent, and a training loop on a batch of environments.

Taught in notebook 08. Collection runs the agent's stochastic policy in several copies of the
environment at once (one policy call per step for all of them); each iteration trains on
everything just collected and then discards it (PPO learns only from data of its current
policy), so no replay buffer, and no Reverb, is needed.

The algorithm is the generated block below, copied from the notebook's ``#@save`` cells: the
two pieces of PPO that ``PPOClipAgent`` computes inside ``agent.train``, written out by hand
(the generalised advantage estimate and the clipped surrogate objective, which the notebook
compares with the agent's own numbers on a real batch), the agent (``build_agent``),
collection (``collect``) and the training loop (``train_ppo``). Before it: the
settings and the course's bookkeeping that the loop calls. After it: the helpers with which
the notebook's section "Inside PPOClipAgent" reproduces what ``agent.train`` computes (the
critic's values and the actor's logits on a batch, log-probabilities, the agent's own
conventions for advantages and loss weights).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np

from utils import envs
from utils.infra import report
from utils.infra.report import Stopwatch
from utils.infra.runtime import LazyModule
from utils.rl.checkpoints import Parts, RunSaver
from utils.rl.evaluation import evaluate
from utils.rl.training import History, SolveCheck, TrainerSettings, check_between

# Imported at first use, after the notebook's setup cell has configured TensorFlow.
tf = LazyModule("tensorflow")
actor_distribution_network = LazyModule("tf_agents.networks.actor_distribution_network")
ppo_clip_agent = LazyModule("tf_agents.agents.ppo.ppo_clip_agent")
py_tf_eager_policy = LazyModule("tf_agents.policies.py_tf_eager_policy")
tensor_spec = LazyModule("tf_agents.specs.tensor_spec")
trajectory = LazyModule("tf_agents.trajectories.trajectory")
ts = LazyModule("tf_agents.trajectories.time_step")
value_network = LazyModule("tf_agents.networks.value_network")


@dataclass(frozen=True, kw_only=True)
class PpoSettings(TrainerSettings):
    """Every hyperparameter of a PPO run. Taught in notebook 08.

    The environment and the rule for "solved" come from ``TrainerSettings``.
    """

    num_envs: int = 8  # copies of the environment stepped together while collecting
    collect_steps_per_env: int = 32  # steps per copy per iteration (num_envs x this in all)
    actor_layers: tuple[int, ...] = (64, 64)  # hidden layers of the policy network
    value_layers: tuple[int, ...] = (64, 64)  # hidden layers of the value network
    learning_rate: float = 1e-3  # Adam's step size
    gamma: float = 0.98  # discount of future rewards
    use_gae: bool = True  # generalised advantage estimation (else Monte-Carlo advantages)
    gae_lambda: float = 0.8  # GAE's trade-off between bias (0) and variance (1)
    clip_ratio: float = 0.2  # PPO's clip: the new/old probability ratio stays in [0.8, 1.2]
    num_epochs: int = 20  # passes over each batch of experience (one gradient step each)
    entropy_regularization: float = 0.0  # bonus for keeping the policy random
    normalize_rewards: bool = False  # divide rewards by their running standard deviation
    num_iterations: int = 400  # give up after this many collect-and-train iterations
    eval_gate: float = 200.0  # quick checks only once recent training episodes average this
    eval_interval: int = 2  # ... and then every `eval_interval` iterations

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        super().validate()
        self.require_whole("num_envs", "num_epochs", "num_iterations")
        self.require_whole("collect_steps_per_env", minimum=2)  # PPO trains on transitions
        self.require_positive("learning_rate")
        self.require_between("gamma", "gae_lambda")
        if not 0.0 < self.clip_ratio < 1.0:
            raise ValueError(f"clip_ratio must be in (0, 1), got {self.clip_ratio!r}.")
        self.require_sizes("actor_layers", "value_layers")


def make_train_env(settings: PpoSettings, seed: int = 0):
    """``num_envs`` seeded copies of the environment, stepped as one batch."""
    return envs.batched_env(settings.env_name, settings.num_envs, seed=seed)


def finished_episode_returns(experience, running: np.ndarray) -> list[float]:
    """Returns of the episodes that ended inside a batch of experience, in order of ending.

    ``running`` holds each copy's reward so far in its unfinished episode; it is updated in
    place, so episodes that span two batches are counted whole.
    """
    rewards = np.asarray(experience.reward, dtype=float)
    ended = np.asarray(experience.next_step_type) == 2  # StepType.LAST
    if rewards.ndim != 2 or running.shape != (rewards.shape[0],):
        raise ValueError(
            f"Expected experience of shape [copies, steps] and one running sum per copy; got "
            f"rewards {rewards.shape} and running {running.shape}."
        )
    returns = []
    for t in range(rewards.shape[1]):
        running += rewards[:, t]
        for i in np.flatnonzero(ended[:, t]):
            returns.append(float(running[i]))
            running[i] = 0.0
    return returns


def categorical_projection_net(action_spec):
    """TF-Agents' ``CategoricalProjectionNetwork`` (logits -> Categorical), NumPy-2.5 safe.

    The original's constructor calls ``int()`` on a one-element array, which NumPy >= 2.5
    rejects (TypeError); this subclass computes the same thing without it.
    """
    import tensorflow as tf
    from tf_agents.networks import categorical_projection_network, network

    class CategoricalProjection(categorical_projection_network.CategoricalProjectionNetwork):
        def __init__(
            self, sample_spec, logits_init_output_factor=0.1, name="CategoricalProjectionNetwork"
        ):
            counts = np.unique(np.asarray(sample_spec.maximum - sample_spec.minimum + 1))
            if counts.size != 1 or counts[0] <= 0:
                raise ValueError(
                    f"Every action dimension needs the same number of actions: {sample_spec}"
                )
            output_shape = sample_spec.shape.concatenate([int(counts[0])])
            network.DistributionNetwork.__init__(
                self,
                input_tensor_spec=None,
                state_spec=(),
                output_spec=self._output_distribution_spec(output_shape, sample_spec, name),
                name=name,
            )
            self._sample_spec = sample_spec
            self._output_shape = output_shape
            self._projection_layer = tf.keras.layers.Dense(
                output_shape.num_elements(),
                kernel_initializer=tf.compat.v1.keras.initializers.VarianceScaling(
                    scale=logits_init_output_factor
                ),
                bias_initializer=tf.keras.initializers.Zeros(),
                name="logits",
            )

    return CategoricalProjection(action_spec)


# --- the course's bookkeeping, which the loop calls -----------------------------------------


@dataclass
class PpoHistory(History):
    """What happened during :func:`train_ppo`; ``History`` holds what every trainer records."""

    # One entry per training episode (sampled actions), at the step count when it ended.
    episode_env_steps: list[int] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)

    def record_episodes(self, experience, running: np.ndarray, env_steps: int) -> list[float]:
        """Note the returns of the episodes that ended in a batch; return them.

        ``running`` holds each copy's reward so far (see :func:`finished_episode_returns`).
        """
        finished = finished_episode_returns(experience, running)
        self.episode_returns += finished
        self.episode_env_steps += [int(env_steps)] * len(finished)
        return finished


def ppo_checks(
    agent, settings: PpoSettings, history: PpoHistory, start: float, *, seed: int = 0
) -> SolveCheck:
    """The quick check and, when it passes, the full one (a ``SolveCheck``), for :func:`train_ppo`.

    Call it as ``check(env_steps)``. Both play ``agent.policy`` (the most likely action) on
    batched environments, each check with its own seeds (``SolveCheck`` records whether each
    full check ran all its episodes in ``history.full_eval_complete``).
    """
    s = settings
    greedy = py_tf_eager_policy.PyTFEagerPolicy(
        agent.policy, use_tf_function=True, batch_time_steps=False
    )
    quick_env = envs.batched_env(s.env_name, s.eval_episodes, seed=1000 * seed + 1)
    full_env = envs.batched_env(s.env_name, s.solve_episodes, seed=1000 * seed + 500)
    quick = functools.partial(evaluate, quick_env, greedy, s.eval_episodes, **s.stop_early)

    full = functools.partial(evaluate, full_env, greedy, s.solve_episodes, **s.stop_early)

    return SolveCheck(history, quick=quick, full=full, target=s.target_return, start=start)


def ppo_checkpointed(checkpoints, settings: PpoSettings, agent, check) -> RunSaver:
    """Connect one run of :func:`train_ppo` to a checkpoint folder (notebook 11; None: none).

    Saved after whole iterations: the agent (actor, critic, observation normaliser, optimizer,
    train-step counter) and the history. The environments' episodes in progress are not: a
    resumed run starts new ones.
    """
    parts = Parts(tf={"agent": agent})
    identity = {
        "trainer": "ppo",
        "env_name": settings.env_name,
        "actor_layers": list(settings.actor_layers),
        "value_layers": list(settings.value_layers),
    }
    return RunSaver(checkpoints, parts, identity=identity, settings=settings, check=check)


# --- the pieces of the algorithm, as notebook 08 teaches them ---------------------------------

# BEGIN generated from notebooks/08_actor_critic.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def gae_advantages(rewards, values, episode_ends, gamma, lam):
    """Generalised advantage estimates A_t of steps shaped [..., T] (e.g. [copies, steps]).

    ``values`` holds V(s_0) ... V(s_T): one more than ``rewards``, the last being the state after
    the last step, which bootstraps an episode the batch cut off. ``episode_ends`` is True where
    the episode ended at step t: the next state then counts 0 and the sum restarts.
    delta_t = r_t + gamma * V(s_{t+1}) - V(s_t); A_t = delta_t + gamma * lam * A_{t+1}.
    """
    gamma, lam = check_between("gamma", gamma, 0.0, 1.0), check_between("lam", lam, 0.0, 1.0)
    rewards, values = np.asarray(rewards, np.float64), np.asarray(values, np.float64)
    going_on = 1.0 - np.asarray(episode_ends, np.float64)  # 0 where the episode ended
    if rewards.ndim == 0 or rewards.shape[-1] == 0:
        raise ValueError(f"rewards must hold at least one step, got shape {rewards.shape}.")
    if values.shape != (*rewards.shape[:-1], rewards.shape[-1] + 1):
        raise ValueError(
            f"values must hold one more step than rewards (V of the state after the last "
            f"step): rewards {rewards.shape}, values {values.shape}."
        )
    if going_on.shape != rewards.shape:
        raise ValueError(f"episode_ends {going_on.shape} must match rewards {rewards.shape}.")
    deltas = rewards + gamma * going_on * values[..., 1:] - values[..., :-1]  # TD residuals
    advantages = np.empty_like(deltas)
    running = np.zeros(deltas.shape[:-1])
    for t in range(deltas.shape[-1] - 1, -1, -1):  # backwards: A_t needs A_{t+1}
        running = deltas[..., t] + gamma * lam * going_on[..., t] * running
        advantages[..., t] = running
    return advantages


def clipped_surrogate(new_log_probs, old_log_probs, advantages, clip_ratio, weights=None):
    """PPO's clipped surrogate objective L (to maximise): the mean of min(r A, clip(r) A).

    r = pi_new(a|s) / pi_old(a|s) = exp(new_log_probs - old_log_probs), clipped to
    [1 - clip_ratio, 1 + clip_ratio]. ``weights`` (e.g. 0 for a step that does not count)
    multiply each step's term before the mean, which runs over all steps.
    """
    clip_ratio = check_between("clip_ratio", clip_ratio, 0.0, 1.0)
    new, old = np.asarray(new_log_probs, np.float64), np.asarray(old_log_probs, np.float64)
    advantages = np.asarray(advantages, np.float64)
    if not new.shape == old.shape == advantages.shape:
        raise ValueError(
            f"Expected one log-probability of each policy and one advantage per step; got "
            f"shapes {new.shape}, {old.shape} and {advantages.shape}."
        )
    ratio = np.exp(new - old)  # pi_new(a|s) / pi_old(a|s)
    clipped = np.clip(ratio, 1.0 - clip_ratio, 1.0 + clip_ratio)
    per_step = np.minimum(ratio * advantages, clipped * advantages)  # the pessimistic term
    if weights is not None:
        per_step = per_step * np.broadcast_to(np.asarray(weights, np.float64), per_step.shape)
    return float(per_step.mean())


def build_agent(settings, py_env):
    """A ``PPOClipAgent`` with an ``ActorDistributionNetwork`` and a ``ValueNetwork``."""
    observation_spec = tensor_spec.from_spec(py_env.observation_spec())
    action_spec = tensor_spec.from_spec(py_env.action_spec())
    actor_net = actor_distribution_network.ActorDistributionNetwork(
        observation_spec,
        action_spec,
        fc_layer_params=settings.actor_layers,
        discrete_projection_net=categorical_projection_net,  # TF-Agents' own, NumPy-2 safe
    )
    value_net = value_network.ValueNetwork(observation_spec, fc_layer_params=settings.value_layers)
    agent = ppo_clip_agent.PPOClipAgent(
        ts.time_step_spec(observation_spec),
        action_spec,
        optimizer=tf.keras.optimizers.Adam(learning_rate=settings.learning_rate),
        actor_net=actor_net,
        value_net=value_net,
        importance_ratio_clipping=settings.clip_ratio,  # ε
        discount_factor=settings.gamma,
        lambda_value=settings.gae_lambda,
        use_gae=settings.use_gae,
        use_td_lambda_return=settings.use_gae,
        num_epochs=1,  # one pass per agent.train call; the loop makes num_epochs calls
        entropy_regularization=settings.entropy_regularization,
        normalize_observations=True,  # standardised inputs: see the text above
        normalize_rewards=settings.normalize_rewards,  # False: see the settings
        train_step_counter=tf.Variable(0, dtype=tf.int64),  # int64: TF >= 2.16 needs it
    )
    agent.initialize()
    return agent


def collect(py_env, policy, time_step, num_steps):
    """Play ``policy`` for ``num_steps`` steps in every copy of a batched Python environment.

    Each step's ``Trajectory`` is kept, and they are stacked into one batch of shape
    [copies, num_steps], the layout ``agent.train`` expects. Returns ``(experience,
    time_step)``; pass ``time_step`` back in to carry on where it stopped (None: reset).
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps!r}.")
    if time_step is None:
        time_step = py_env.reset()
    steps = []
    for _ in range(num_steps):
        action_step = tf.nest.map_structure(np.asarray, policy.action(time_step))
        next_time_step = py_env.step(action_step.action)
        steps.append(trajectory.from_transition(time_step, action_step, next_time_step))
        time_step = next_time_step
    experience = tf.nest.map_structure(lambda *xs: np.stack(xs, axis=1), *steps)
    return experience, time_step


def train_ppo(agent, py_env, settings, *, seed=0, progress=True, checkpoints=None):
    """Collect with the stochastic policy, train on the batch, check; stop once solved.

    Returns a ``PpoHistory``; ``agent.policy`` is then the policy that solved the task.
    ``checkpoints`` (notebook 11) continues the run saved in its folder, and saves it there.
    """
    s, start, history = settings, time.perf_counter(), PpoHistory(label="PPO")
    policy = py_tf_eager_policy.PyTFEagerPolicy(  # the collect policy, for a Python env
        agent.collect_policy, use_tf_function=True, batch_time_steps=False
    )
    solved = ppo_checks(agent, s, history, start, seed=seed)  # the quick check, then the full one
    # One epoch per call (see the text above), traced without autograph as in notebook 03.
    train_step = tf.function(lambda experience: agent.train(experience).loss, autograph=False)
    run = ppo_checkpointed(checkpoints, s, agent, solved)  # None: saves nothing
    run.resume()  # a saved run, if any: agent and history (the environments start anew)
    time_step, running = None, np.zeros(s.num_envs)  # each copy's reward so far
    first, last = run.iteration + 1, run.iteration if history.solved else s.num_iterations
    bar = report.progress_bar(range(first, last + 1), desc="PPO", disable=not progress)
    iteration, env_steps, loss = run.iteration, run.env_steps, float("nan")
    for iteration in bar:
        with Stopwatch(history.timings, "collect"):
            experience, time_step = collect(py_env, policy, time_step, s.collect_steps_per_env)
            env_steps = iteration * s.num_envs * s.collect_steps_per_env
            history.record_episodes(experience, running, env_steps)
        with Stopwatch(history.timings, "train"):
            experience = tf.nest.map_structure(tf.convert_to_tensor, experience)
            for _ in range(s.num_epochs):
                loss = train_step(experience)
        loss = history.record_loss(env_steps, loss)  # the last epoch's loss
        recent = np.mean(history.episode_returns[-10:]) if history.episode_returns else 0.0
        if recent >= s.eval_gate and iteration % s.eval_interval == 0 and solved(env_steps):
            break  # keep the policy that solved the task
        solved.progress(bar, env_steps, loss)
        run.after_iteration(iteration, env_steps, agent.train_step_counter.numpy())
    solved.progress(bar, env_steps, loss, close=True)
    train_steps = agent.train_step_counter.numpy()
    history.finish(run.start, iterations=iteration, env_steps=env_steps, train_steps=train_steps)
    run.finish(iteration, env_steps, train_steps)  # the last checkpoint
    return history


# END generated from notebooks/08_actor_critic.ipynb


# --- looking inside PPOClipAgent: what agent.train computes, step by step (notebook 08) ------


def critic_values(agent, experience) -> np.ndarray:
    """V(s) of every observation of a [copies, steps] batch, from the agent's critic."""
    values, _ = agent.collect_policy.apply_value_network(
        experience.observation, experience.step_type, value_state=()
    )
    return np.asarray(values)


def actor_logits(agent, experience) -> np.ndarray:
    """The actor's logits now (one unnormalised score per action; softmax gives pi) for
    every observation of a [copies, steps] batch, through the agent's observation normaliser."""
    time_steps = ts.TimeStep(
        experience.step_type, experience.reward, experience.discount, experience.observation
    )
    distribution = agent.collect_policy.distribution(time_steps).action
    return np.asarray(distribution.logits_parameter())


def log_prob_of_actions(logits, actions) -> np.ndarray:
    """log pi(a|s) of the actions taken, from logits shaped [..., num_actions] (a log-softmax)."""
    logits, actions = np.asarray(logits, np.float64), np.asarray(actions)
    if logits.shape[:-1] != actions.shape:
        raise ValueError(
            f"Expected one row of logits per action taken; got logits {logits.shape} and "
            f"actions {actions.shape}."
        )
    top = logits.max(axis=-1, keepdims=True)  # subtracted first: exp() cannot overflow
    log_total = np.log(np.exp(logits - top).sum(axis=-1)) + top[..., 0]
    return np.take_along_axis(logits, actions[..., None], axis=-1)[..., 0] - log_total


def gae_as_tf_agents(rewards, values, episode_ends, gamma, lam) -> np.ndarray:
    """:func:`gae_advantages` as ``PPOClipAgent`` computes them: it bootstraps the batch's last
    step with V(s_{T-1}), the value of that step's own state, where GAE calls for V(s_T)
    (tensorflow/agents#953). Same arguments as :func:`gae_advantages`."""
    values = np.asarray(values, np.float64)
    as_agent = np.concatenate([values[..., :-1], values[..., -2:-1]], axis=-1)
    return gae_advantages(rewards, as_agent, episode_ends, gamma, lam)


def normalized_advantages(advantages, eps: float = 1e-8) -> np.ndarray:
    """The advantages ``PPOClipAgent``'s loss uses, from those of a [copies, T] batch's first
    T steps: the last step (no next observation) gets 0, then all are normalised together,
    (A - mean) / sqrt(variance + eps), over every copy and step."""
    advantages = np.asarray(advantages, np.float64)
    if advantages.ndim != 2:
        raise ValueError(f"Expected advantages shaped [copies, steps]; got {advantages.shape}.")
    padded = np.pad(advantages, [(0, 0), (0, 1)])  # the batch's last step: 0
    return (padded - padded.mean()) / np.sqrt(padded.var() + eps)


def loss_weights(step_types) -> np.ndarray:
    """1 for each step of a [copies, steps] batch that ``PPOClipAgent``'s loss counts, else 0.

    Not counted: a boundary step (its step type is LAST: from one episode's last observation
    to the next one's first, an action that did nothing) and the batch's last step.
    """
    weights = (np.asarray(step_types) != 2).astype(np.float64)  # StepType.LAST
    if weights.ndim != 2:
        raise ValueError(f"Expected step types shaped [copies, steps]; got {weights.shape}.")
    weights[:, -1] = 0.0
    return weights


def train_from_scratch(
    settings: PpoSettings, *, seed: int = 0, progress: bool = True, checkpoints=None
):
    """Seed everything, build the environments and the agent, train; return (agent, history).

    ``checkpoints`` (notebook 11): continue from and save into its folder.
    """
    tf.keras.utils.set_random_seed(seed)
    py_env = make_train_env(settings, seed=seed)
    agent = build_agent(settings, py_env)
    history = train_ppo(
        agent, py_env, settings, seed=seed, progress=progress, checkpoints=checkpoints
    )
    return agent, history
