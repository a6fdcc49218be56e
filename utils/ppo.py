"""PPO with TF-Agents: settings, the agent, and a training loop on a batch of environments.

Taught in notebook 06. Collection runs the agent's stochastic policy in several copies of the
environment at once (one policy call per step for all of them); each iteration trains on
everything just collected and then discards it (PPO learns only from data of its current
policy), so no replay buffer, and no Reverb, is needed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from utils.dqn import make_eval_env


@dataclass(frozen=True)
class PpoSettings:
    """Every hyperparameter of a PPO run. Taught in notebook 06."""

    env_name: str = "CartPole-v1"
    num_envs: int = 8  # copies of the environment stepped together while collecting
    collect_steps: int = 32  # steps per copy per iteration (num_envs x collect_steps in all)
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
    max_iterations: int = 400  # give up after this many collect-and-train iterations
    eval_gate: float = 200.0  # quick checks only once recent training episodes average this
    eval_every: int = 2  # ... and then every `eval_every` iterations
    eval_episodes: int = 10  # episodes of the quick check
    solve_episodes: int = 100  # episodes of the full check (Gym's rule for "solved")
    target_return: float = 475.0  # CartPole-v1 is solved at an average return of 475
    max_episode_return: float = 500.0  # the best return one episode can reach

    def __post_init__(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        for name in (
            "num_envs",
            "collect_steps",
            "num_epochs",
            "max_iterations",
            "eval_every",
            "eval_episodes",
        ):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}.")
        if self.collect_steps < 2:
            raise ValueError("collect_steps must be >= 2 (PPO trains on transitions).")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma!r}.")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"gae_lambda must be in [0, 1], got {self.gae_lambda!r}.")
        if not 0.0 < self.clip_ratio < 1.0:
            raise ValueError(f"clip_ratio must be in (0, 1), got {self.clip_ratio!r}.")
        if not self.actor_layers or not self.value_layers:
            raise ValueError("actor_layers and value_layers need at least one layer each.")
        if self.solve_episodes < self.eval_episodes:
            raise ValueError("solve_episodes must be >= eval_episodes.")

    def replace(self, **changes) -> PpoSettings:
        """A copy with some values changed (validated again)."""
        return dataclasses.replace(self, **changes)


def make_train_env(settings: PpoSettings, seed: int = 0):
    """``num_envs`` seeded copies of the environment, stepped as one batch."""
    return make_eval_env(settings.env_name, settings.num_envs, seed=seed)


def collect(py_env, policy, time_step, num_steps: int):
    """Play ``policy`` for ``num_steps`` steps in every copy of a batched Python environment.

    What a driver does, written out: each step's ``Trajectory`` is kept, and they are stacked
    into one batch of shape [copies, num_steps], the layout ``agent.train`` expects. Returns
    ``(experience, time_step)``; pass ``time_step`` back in to carry on where it stopped.
    """
    import tensorflow as tf
    from tf_agents.trajectories import trajectory

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


def build_agent(settings: PpoSettings, py_env):
    """A ``PPOClipAgent`` with an ``ActorDistributionNetwork`` and a ``ValueNetwork``."""
    import tensorflow as tf
    from tf_agents.agents.ppo import ppo_clip_agent
    from tf_agents.networks import actor_distribution_network, value_network
    from tf_agents.specs import tensor_spec
    from tf_agents.trajectories import time_step as ts

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
        importance_ratio_clipping=settings.clip_ratio,
        discount_factor=settings.gamma,
        lambda_value=settings.gae_lambda,
        use_gae=settings.use_gae,
        use_td_lambda_return=settings.use_gae,
        # One pass per agent.train call; train() calls it num_epochs times on each batch.
        num_epochs=1,
        entropy_regularization=settings.entropy_regularization,
        normalize_observations=True,  # running mean/std of observations
        # CartPole pays 1 every step: dividing by the (near-zero) spread of rewards would
        # blow them up to the clip value, so rewards are left as they are.
        normalize_rewards=settings.normalize_rewards,
        # int64: TF >= 2.16 rejects an int32 counter in some agents.
        train_step_counter=tf.Variable(0, dtype=tf.int64),
    )
    agent.initialize()
    return agent


@dataclass
class History:
    """What happened during :func:`train`: one entry per quick evaluation, and the outcome."""

    # One entry per training episode (sampled actions), at the step count when it ended.
    episode_env_steps: list[int] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)
    # One entry per quick evaluation (greedy actions).
    eval_env_steps: list[int] = field(default_factory=list)
    eval_returns: list[float] = field(default_factory=list)
    eval_complete: list[bool] = field(default_factory=list)
    full_evals: list[tuple[int, float]] = field(default_factory=list)  # (env steps, mean)
    losses: list[float] = field(default_factory=list)
    loss_env_steps: list[int] = field(default_factory=list)
    solved: bool = False
    solved_return: float | None = None
    env_steps_to_solve: int | None = None
    seconds_to_solve: float | None = None
    iterations: int = 0
    env_steps: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(
        default_factory=lambda: {"collect": 0.0, "train": 0.0, "evaluate": 0.0}
    )

    def summary(self) -> str:
        """One line: solved or not, and how fast."""
        if self.solved:
            return (
                f"solved: average return {self.solved_return:.1f} over 100 greedy episodes after "
                f"{self.env_steps_to_solve:,} environment steps ({self.iterations} iterations, "
                f"{self.seconds_to_solve:.1f} s)"
            )
        return f"not solved after {self.env_steps:,} environment steps ({self.seconds:.1f} s)"


def train(agent, py_env, settings: PpoSettings, *, seed: int = 0, progress: bool = True):
    """Collect with the stochastic policy, train on the batch, evaluate; stop once solved.

    Returns a :class:`History`. Training stops at the first full evaluation that passes, so
    ``agent.policy`` is the policy that solved the task.
    """
    import tensorflow as tf
    from tf_agents.policies import py_tf_eager_policy
    from tqdm.auto import tqdm

    from utils.evaluation import evaluate

    start = time.perf_counter()
    history = History()
    collect_policy = py_tf_eager_policy.PyTFEagerPolicy(
        agent.collect_policy, use_tf_function=True, batch_time_steps=False
    )
    greedy = py_tf_eager_policy.PyTFEagerPolicy(
        agent.policy, use_tf_function=True, batch_time_steps=False
    )
    quick_env = make_eval_env(settings.env_name, settings.eval_episodes, seed=1000 * seed + 1)
    full_env = make_eval_env(settings.env_name, settings.solve_episodes, seed=1000 * seed + 500)
    stop_early = {
        "target": settings.target_return,
        "max_episode_return": settings.max_episode_return,
    }

    # agent.train compiled once without autograph, for a single epoch: TF-Agents' own
    # num_epochs loop would be unrolled into a graph num_epochs times larger, which takes
    # minutes to trace on a small CPU. Calling it num_epochs times does the same work (and
    # recomputes the advantages with the latest critic before every pass).
    train_step = tf.function(lambda experience: agent.train(experience).loss, autograph=False)

    time_step = None
    running = np.zeros(settings.num_envs)  # reward so far of each copy's current episode
    env_steps = 0
    last_eval = "-"
    bar = tqdm(range(1, settings.max_iterations + 1), desc="PPO", disable=not progress)
    for iteration in bar:
        tick = time.perf_counter()
        experience, time_step = collect(py_env, collect_policy, time_step, settings.collect_steps)
        env_steps += settings.num_envs * settings.collect_steps
        finished = finished_episode_returns(experience, running)
        history.episode_returns += finished
        history.episode_env_steps += [env_steps] * len(finished)
        tock = time.perf_counter()
        experience = tf.nest.map_structure(tf.convert_to_tensor, experience)
        for _ in range(settings.num_epochs):
            loss = train_step(experience)
        loss = float(loss)  # the last epoch's loss
        history.timings["collect"] += tock - tick
        history.timings["train"] += time.perf_counter() - tock
        history.losses.append(loss)
        history.loss_env_steps.append(env_steps)

        tick = time.perf_counter()
        recent = np.mean(history.episode_returns[-10:]) if history.episode_returns else 0.0
        if recent >= settings.eval_gate and iteration % settings.eval_every == 0:
            check = evaluate(quick_env, greedy, settings.eval_episodes, **stop_early)
            history.eval_env_steps.append(env_steps)
            history.eval_returns.append(check.mean)
            history.eval_complete.append(check.complete)
            last_eval = f"{check.mean:.0f}" + ("" if check.complete else "*")
            if check.reaches(settings.target_return):
                full = evaluate(full_env, greedy, settings.solve_episodes, **stop_early)
                history.full_evals.append((env_steps, full.mean))
                if full.reaches(settings.target_return):
                    history.solved = True
                    history.solved_return = full.mean
                    history.env_steps_to_solve = env_steps
                    history.seconds_to_solve = time.perf_counter() - start
                    bar.set_postfix({"step": env_steps, "eval": "solved"})
                    history.timings["evaluate"] += time.perf_counter() - tick
                    break  # keep the policy that solved the task
        history.timings["evaluate"] += time.perf_counter() - tick
        bar.set_postfix(
            {"step": env_steps, "loss": f"{loss:.3g}", "eval": last_eval}, refresh=False
        )
    bar.close()
    history.iterations = iteration
    history.env_steps = env_steps
    history.seconds = time.perf_counter() - start
    return history


def train_from_scratch(settings: PpoSettings, *, seed: int = 0, progress: bool = True):
    """Seed everything, build the environments and the agent, train; return (agent, history)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    py_env = make_train_env(settings, seed=seed)
    agent = build_agent(settings, py_env)
    history = train(agent, py_env, settings, seed=seed, progress=progress)
    return agent, history
