"""Continuous control: DDPG, TD3 and SAC on Pendulum-v1 with TF-Agents' actor-learner API.

Taught in notebook 10. The networks, the agents, the learner and the training loop are the
generated block below, copied from the notebook's ``#@save`` cells (with the critic targets
and the exploration noise written out by hand, which the notebook checks against TF-Agents);
the rest of the module is the course's bookkeeping: settings, the truncating Pendulum, the
action-spec check, the minibatch pool, the train-steps-per-second trigger and the checks.

The training loop works in phases, as the course's DQN does: an ``Actor`` (``tf_agents.train``)
plays ``collect_steps_per_iteration`` environment steps into the replay (Reverb where it can be
imported), one draw of ``sample_size`` transitions is taken from the replay, and a ``Learner``
runs ``train_steps_per_iteration`` train steps in one compiled call on minibatches picked at
random from that draw. Quick greedy checks of ``eval_episodes`` episodes run every ``eval_interval``
phases, and the full check of ``solve_episodes`` episodes only when one passes
(``SolveCheck``).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from utils import envs
from utils.envs import CONTINUOUS_AGENTS as AGENTS
from utils.envs import check_action_spec
from utils.infra import report
from utils.infra.report import Stopwatch
from utils.infra.runtime import LazyModule
from utils.rl import evaluation, replay
from utils.rl.checkpoints import Parts, RunSaver
from utils.rl.training import History, SolveCheck, TrainerSettings, gym_checks

# Imported at first use, after the notebook's setup cell.
tf = LazyModule("tensorflow")
actor = LazyModule("tf_agents.train.actor")
actor_distribution_network = LazyModule("tf_agents.networks.actor_distribution_network")
actor_network = LazyModule("tf_agents.agents.ddpg.actor_network")
critic_network = LazyModule("tf_agents.agents.ddpg.critic_network")
ddpg_agent = LazyModule("tf_agents.agents.ddpg.ddpg_agent")
learner = LazyModule("tf_agents.train.learner")
py_tf_eager_policy = LazyModule("tf_agents.policies.py_tf_eager_policy")
random_py_policy = LazyModule("tf_agents.policies.random_py_policy")
sac_agent = LazyModule("tf_agents.agents.sac.sac_agent")
spec_utils = LazyModule("tf_agents.train.utils.spec_utils")
tanh_normal_projection_network = LazyModule("tf_agents.agents.sac.tanh_normal_projection_network")
td3_agent = LazyModule("tf_agents.agents.td3.td3_agent")
train_utils = LazyModule("tf_agents.train.utils.train_utils")
triggers = LazyModule("tf_agents.train.triggers")

TD_LOSSES = ("squared", "huber")


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContinuousSettings(TrainerSettings):
    """Every hyperparameter of a continuous-control run (defaults: the course's, for SAC)."""

    name: str = "course"  # what summaries and benchmarks call these settings
    agent: str = "sac"  # "ddpg", "td3" or "sac"
    env_name: str = "Pendulum-v1"
    # Networks: Dense ReLU layers of the actor; of the critic, layers that see the observation
    # alone (none by default), then layers that see observation and action together.
    actor_layers: tuple[int, ...] = (64, 64)
    critic_observation_layers: tuple[int, ...] = ()
    critic_layers: tuple[int, ...] = (64, 64)
    critic_initializer: str | None = "glorot_uniform"  # the critic's weights; None: TF-Agents'
    learning_rate: float = 1e-3  # Adam's step size for the critics (and SAC's temperature)
    actor_learning_rate: float | None = None  # the actor's; None: learning_rate
    gamma: float = 0.99  # discount of future rewards
    reward_scale_factor: float = 1.0  # rewards are multiplied by this in the critic's target
    td_loss: str = "squared"  # the critic's loss on the TD error: "squared" or "huber"
    target_update_tau: float = 0.02  # soft update of the target networks ...
    target_update_period: int = 1  # ... every this many train steps
    # Exploration while collecting (DDPG, TD3): noise added to the actor's action.
    exploration_noise: float = 0.1  # TD3: Gaussian std; DDPG: Ornstein-Uhlenbeck std
    ou_damping: float = 0.15  # DDPG: how fast the Ornstein-Uhlenbeck noise returns to 0
    # TD3's other two fixes: a delayed actor, and noise on the target's action.
    actor_update_period: int = 2  # train the actor every this many train steps
    target_policy_noise: float = 0.2  # std of the noise on the target action ...
    target_policy_noise_clip: float = 0.5  # ... clipped to this size
    # Replay and phases.
    replay_capacity: int = 100_000
    initial_collect_steps: int = 500  # random-policy steps before training starts
    collect_steps_per_iteration: int = 200  # environment steps per phase, then ...
    train_steps_per_iteration: int = 400  # ... this many train steps
    # Minibatches: with the pool, one draw of sample_size transitions per phase and
    # minibatches sliced from it; without, the learner reads each minibatch from the replay.
    minibatch_pool: bool = True
    sample_size: int = 4096
    batch_size: int = 256  # transitions per train step
    max_env_steps: int = 30_000  # give up here if not solved before
    # "Solved": Pendulum-v1 has no threshold of its own; -200 over 100 episodes is the bar.
    target_return: float | None = -200.0
    max_episode_return: float | None = 0.0  # Pendulum's rewards are never positive

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        super().validate()
        self.require_one_of("agent", AGENTS)
        self.require_one_of("td_loss", TD_LOSSES)
        self.require_sizes("actor_layers", "critic_layers")
        if self.critic_observation_layers:
            self.require_sizes("critic_observation_layers")
        self.require_positive(
            "learning_rate", "exploration_noise", "reward_scale_factor", "target_policy_noise_clip"
        )
        self.require_positive("actor_learning_rate", optional=True)
        self.require_between("gamma", "ou_damping")
        self.require_fraction("target_update_tau")
        self.require_whole(
            "target_update_period",
            "actor_update_period",
            "replay_capacity",
            "collect_steps_per_iteration",
            "train_steps_per_iteration",
            "sample_size",
            "batch_size",
            "max_env_steps",
        )
        self.require_whole("initial_collect_steps", minimum=0)
        if self.target_policy_noise < 0:
            raise ValueError(f"target_policy_noise must be >= 0, got {self.target_policy_noise!r}.")
        self.require_at_least("sample_size", "batch_size", why="minibatches come from one draw")
        self.require_at_least(
            "max_env_steps", "initial_collect_steps", why="the random warm-up comes first"
        )


COURSE = ContinuousSettings()


# TF-Agents' own example settings for these agents (``tf_agents/examples/sac/haarnoja18`` and
# ``tf_agents/agents/{ddpg,td3}/examples/v2/train_eval.py``), on Pendulum: one environment step
# and one train step per iteration, each minibatch read from the replay, checks every 1,000
# steps. Scaled to Pendulum: SAC's reward scale is 1 (the example's 0.1 is for MuJoCo's larger
# rewards) and every run stops at 50,000 steps.
_EXAMPLE_LOOP = {
    "collect_steps_per_iteration": 1,
    "train_steps_per_iteration": 1,
    "minibatch_pool": False,
    "eval_interval": 1000,
    "max_env_steps": 50_000,
}
_DDPG_TD3_EXAMPLE = {
    "actor_layers": (400, 300),
    "critic_observation_layers": (400,),
    "critic_layers": (300,),
    "learning_rate": 1e-3,
    "actor_learning_rate": 1e-4,
    "gamma": 0.995,
    "td_loss": "huber",
    "target_update_tau": 0.05,
    "target_update_period": 5,
    "critic_initializer": None,
    "initial_collect_steps": 1000,
    "batch_size": 64,
    "sample_size": 64,
}
EXAMPLES = {
    "sac": ContinuousSettings(
        name="example",
        agent="sac",
        actor_layers=(256, 256),
        critic_layers=(256, 256),
        learning_rate=3e-4,
        initial_collect_steps=10_000,
        replay_capacity=1_000_000,
        **_EXAMPLE_LOOP,
    ),
    "td3": ContinuousSettings(
        name="example", agent="td3", exploration_noise=0.1, **_DDPG_TD3_EXAMPLE, **_EXAMPLE_LOOP
    ),
    "ddpg": ContinuousSettings(
        name="example",
        agent="ddpg",
        exploration_noise=0.2,
        ou_damping=0.15,
        **_DDPG_TD3_EXAMPLE,
        **_EXAMPLE_LOOP,
    ),
}


# --- environment and action specs ------------------------------------------------------------


def make_env(env_name: str = "Pendulum-v1", seed: int | None = None):
    """A TF-Agents Python environment whose step limit truncates episodes (discount 1).

    ``suite_gym.load`` would keep Gym's own ``TimeLimit``, which reports the end of the clock
    as ``done`` and so as a termination (discount 0); here Gym's limit is removed and
    TF-Agents' ``TimeLimit`` ends the episode without zeroing the discount.
    """
    import gym
    from tf_agents.environments import suite_gym

    class PlainTorque(gym.Wrapper):
        """Pendulum keeps its last torque to draw it; pygame 2.6 rejects it as a NumPy number."""

        def step(self, action):
            result = self.env.step(action)
            if getattr(self.env.unwrapped, "last_u", None) is not None:
                self.env.unwrapped.last_u = float(self.env.unwrapped.last_u)
            return result

    envs.check_env_name(env_name)
    spec = gym.spec(env_name)
    env = suite_gym.wrap_env(
        PlainTorque(spec.make().unwrapped), max_episode_steps=spec.max_episode_steps
    )
    if seed is not None:
        env.seed(seed)
    return env


def td_loss_function(name: str):
    """The critic's loss on each TD error: ``"squared"`` or ``"huber"`` (TF-Agents' examples)."""
    if name == "squared":
        return tf.math.squared_difference
    if name == "huber":  # elementwise; the agents average it over the minibatch

        def huber(targets, predictions):
            return tf.compat.v1.losses.huber_loss(
                targets, predictions, reduction=tf.compat.v1.losses.Reduction.NONE
            )

        return huber
    raise ValueError(f"td_loss must be one of {TD_LOSSES}, got {name!r}.")


# --- the pieces of the algorithm, as notebook 10 teaches them ---------------------------------

# BEGIN generated from notebooks/10_continuous_control.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def build_critic(settings, observation_spec, action_spec):
    """Q(s, a): observation (through its own layers, if any) and action joined, Dense layers."""
    return critic_network.CriticNetwork(
        (observation_spec, action_spec),
        observation_fc_layer_params=settings.critic_observation_layers or None,
        joint_fc_layer_params=settings.critic_layers,
        kernel_initializer=settings.critic_initializer,  # None: TF-Agents' default
        last_kernel_initializer=settings.critic_initializer,
    )


def build_actor(settings, observation_spec, action_spec):
    """DDPG and TD3: a deterministic action mu(s); SAC: a squashed Gaussian over actions."""
    if settings.agent == "sac":
        return actor_distribution_network.ActorDistributionNetwork(
            observation_spec,
            action_spec,
            fc_layer_params=settings.actor_layers,
            continuous_projection_net=tanh_normal_projection_network.TanhNormalProjectionNetwork,
        )
    return actor_network.ActorNetwork(
        observation_spec, action_spec, fc_layer_params=settings.actor_layers
    )


def critic_target(rewards, discounts, next_values, gamma):
    """The critic's regression target y = r + gamma * d * V(s'), d = 0 after a termination."""
    return rewards + gamma * discounts * next_values


def build_agent(settings, env, train_step, critic_builder=None):
    """A DdpgAgent, Td3Agent or SacAgent for ``env``, built from ``settings``.

    ``critic_builder`` replaces ``build_critic`` (same arguments), e.g. an exercise's answer.
    """
    observation_spec, action_spec, time_step_spec = spec_utils.get_tensor_specs(env)
    check_action_spec(settings.agent, action_spec)
    adam = tf.keras.optimizers.Adam
    common = {
        "actor_network": build_actor(settings, observation_spec, action_spec),
        "critic_network": (critic_builder or build_critic)(settings, observation_spec, action_spec),
        "actor_optimizer": adam(settings.actor_learning_rate or settings.learning_rate),
        "critic_optimizer": adam(settings.learning_rate),
        "target_update_tau": settings.target_update_tau,
        "target_update_period": settings.target_update_period,
        "gamma": settings.gamma,  # TF-Agents' default is 1: always pass it
        "reward_scale_factor": settings.reward_scale_factor,
        "td_errors_loss_fn": td_loss_function(settings.td_loss),
        "train_step_counter": train_step,
    }
    if settings.agent == "sac":
        agent = sac_agent.SacAgent(
            time_step_spec, action_spec, alpha_optimizer=adam(settings.learning_rate), **common
        )
    elif settings.agent == "td3":
        agent = td3_agent.Td3Agent(
            time_step_spec,
            action_spec,
            exploration_noise_std=settings.exploration_noise,
            actor_update_period=settings.actor_update_period,
            target_policy_noise=settings.target_policy_noise,
            target_policy_noise_clip=settings.target_policy_noise_clip,
            **common,
        )
    else:
        agent = ddpg_agent.DdpgAgent(
            time_step_spec,
            action_spec,
            ou_stddev=settings.exploration_noise,
            ou_damping=settings.ou_damping,
            **common,
        )
    agent.initialize()
    return agent


def ou_noise(steps, damping, stddev, rng):
    """Ornstein-Uhlenbeck noise as TF-Agents makes it: x <- (1 - damping) * x + N(0, stddev^2)."""
    x, values = 0.0, np.empty(steps)
    for t in range(steps):
        x = (1.0 - damping) * x + rng.normal(0.0, stddev)
        values[t] = x
    return values


def twin_min_value(next_q1, next_q2, next_log_probs=None, alpha=0.0):
    """TD3 and SAC: the smaller target critic value, minus alpha * log pi(a'|s') for SAC."""
    value = np.minimum(next_q1, next_q2)
    if next_log_probs is not None:
        value = value - alpha * np.asarray(next_log_probs)
    return value


def smoothed_target_actions(actions, noise_std, noise_clip, rng):
    """TD3's target smoothing: the target actor's actions plus clipped Gaussian noise.

    TD3's paper also clips the result to the action limits; TF-Agents' Td3Agent does not.
    """
    noise = np.clip(rng.normal(0.0, noise_std, np.shape(actions)), -noise_clip, noise_clip)
    return np.asarray(actions) + noise


def make_learner(settings, agent, memory, train_step, root_dir, learner_triggers=()):
    """A Learner training ``agent`` from ``memory``; returns it and the per-phase refill."""
    if settings.minibatch_pool:
        pool = MinibatchPool(memory, settings.sample_size, settings.batch_size)
        dataset_fn, refill = pool.dataset, pool.refill
    else:  # every minibatch read from the replay, as TF-Agents' examples do

        def dataset_fn():
            return memory.dataset(settings.batch_size, num_steps=2)

        def refill():
            pass

    trainer = learner.Learner(
        root_dir,
        train_step,
        agent,
        dataset_fn,
        triggers=list(learner_triggers),
        checkpoint_interval=-1,  # no training checkpoints here
        summary_interval=settings.train_steps_per_iteration * settings.eval_interval,
    )
    return trainer, refill


def train(
    settings=COURSE,
    *,
    seed=0,
    root_dir=None,
    backend="auto",
    progress=True,
    policy_save_interval=0,
    critic_builder=None,
    checkpoints=None,
):
    """Train ``settings.agent`` until solved or ``max_env_steps``; return ``(agent, history)``.

    ``root_dir`` (a new folder; None: a temporary one) receives the learner's TensorBoard
    summaries in ``root_dir/train`` and, every ``policy_save_interval`` train steps and at the
    end (0: never), the policy in ``root_dir/policies``. ``critic_builder``: see ``build_agent``.
    ``checkpoints`` (notebook 11) continues the run saved in its folder, and saves it there.
    """
    tf.keras.utils.set_random_seed(seed)
    env = make_env(settings.env_name, seed=seed)
    train_step = train_utils.create_train_step()
    agent = build_agent(settings, env, train_step, critic_builder)
    history = History(label=f"{settings.name} {settings.agent.upper()}")
    root_dir = root_dir or tempfile.mkdtemp(prefix=f"{settings.agent}_")
    learner_triggers = [TrainStepRate()]
    if policy_save_interval:  # writes the policy's SavedModels now, its weights when due
        policies = os.path.join(root_dir, learner.POLICY_SAVED_MODEL_DIR)
        learner_triggers.append(
            triggers.PolicySavedModelTrigger(
                policies,
                agent,
                train_step,
                interval=policy_save_interval,
                save_collect_policy=False,
            )
        )
    memory = replay.make_replay(
        agent.collect_data_spec,
        settings.replay_capacity,
        backend=backend,
        table_name=f"continuous_{settings.agent}",
    )
    try:
        start = time.perf_counter()
        run = checkpointed(checkpoints, settings, agent, train_step, memory, history, start)
        if run.resume():  # a saved run: agent, train step, replay and history as they were
            env_steps, start = run.env_steps, run.start
        else:
            with Stopwatch(history.timings, "collect"):
                env_steps = warm_up(env, memory, train_step, settings, seed)  # random play
        trainer, refill = make_learner(
            settings, agent, memory, train_step, root_dir, learner_triggers
        )
        collect_policy = py_tf_eager_policy.PyTFEagerPolicy(
            agent.collect_policy, use_tf_function=True
        )  # the actor's action plus noise
        collector = actor.Actor(
            env,
            collect_policy,
            train_step,
            observers=[memory.observer],
            steps_per_run=settings.collect_steps_per_iteration,
        )
        reset_observer(memory)  # the new Actor has reset the environment
        check = greedy_checks(agent, settings, history, start, seed=seed)
        steps_left = 0 if history.solved else max(settings.max_env_steps - env_steps, 0)
        first = run.iteration + 1
        phases = range(first, first + math.ceil(steps_left / settings.collect_steps_per_iteration))
        bar = report.progress_bar(phases, desc=history.label, disable=not progress)
        loss, phase = math.nan, run.iteration
        for phase in bar:
            with Stopwatch(history.timings, "collect"):
                collector.run()  # play, and write every step into the replay
                env_steps += settings.collect_steps_per_iteration
            with Stopwatch(history.timings, "train"):
                refill()
                result = trainer.run(iterations=settings.train_steps_per_iteration)
            loss = finite_loss(result.loss, int(train_step), env_steps, loss)
            history.record_loss(env_steps, loss)
            if phase % settings.eval_interval == 0 and check(env_steps):
                break  # solved: keep the policy that passed
            check.progress(bar, env_steps, loss)
            run.after_iteration(phase, env_steps, int(train_step))  # saves when due
        check.progress(bar, env_steps, loss, close=True)
        for trigger in learner_triggers[1:]:
            trigger(int(train_step), force_trigger=True)  # save the final policy too
        history.finish(start, iterations=phase, env_steps=env_steps, train_steps=int(train_step))
        run.finish(phase, env_steps, int(train_step))  # the last checkpoint
    finally:
        memory.close()
    return agent, history


# END generated from notebooks/10_continuous_control.ipynb


# --- bookkeeping around the loop ---------------------------------------------------------------


def greedy_policy(agent):
    """The policy to evaluate: the actor's own action (SAC: the mean of its distribution)."""
    from tf_agents.agents.sac import sac_agent
    from tf_agents.policies import greedy_policy as greedy

    if isinstance(agent, sac_agent.SacAgent):  # SAC's agent.policy samples
        return greedy.GreedyPolicy(agent.policy)
    return agent.policy


class MinibatchPool:
    """One draw of transitions per phase, and an endless dataset of minibatches picked from it.

    ``refill()`` takes ``sample_size`` two-step samples from the replay into variables; the
    dataset gathers ``batch_size`` of them at random for every train step, skipping samples
    that straddle two episodes (a last step followed by the next episode's first).
    """

    def __init__(self, replay_memory, sample_size: int, batch_size: int) -> None:
        self._draws = iter(replay_memory.dataset(sample_size, num_steps=2, prefetch=1))
        experience, info = next(self._draws)
        self._pool = tf.nest.map_structure(
            lambda t: tf.Variable(t, trainable=False), (experience, info)
        )
        self._valid = tf.Variable(self._valid_mask(experience), trainable=False)
        self.batch_size = batch_size

    @staticmethod
    def _valid_mask(experience):
        return tf.cast(~experience.is_boundary()[:, 0], tf.float32)

    def refill(self) -> None:
        """Replace the pool with a fresh draw from the replay."""
        experience, info = next(self._draws)
        tf.nest.map_structure(lambda v, t: v.assign(t), self._pool, (experience, info))
        self._valid.assign(self._valid_mask(experience))

    def dataset(self):
        """An endless ``tf.data.Dataset`` of ``(experience, info)`` minibatches from the pool."""

        def minibatch(_):
            logits = tf.math.log(self._valid)[None]  # -inf for invalid samples
            index = tf.random.categorical(logits, self.batch_size)[0]
            return tf.nest.map_structure(lambda v: tf.gather(v, index), self._pool)

        return tf.data.Dataset.range(2**62).map(minibatch)


class TrainStepRate:
    """A learner trigger: train steps per second of wall time between two of its calls.

    The ``Learner`` calls its triggers after every ``run``, inside its summary writer; this one
    keeps ``(train step, rate)`` pairs and writes the rate to TensorBoard as
    ``Metrics/train_steps_per_second`` (wall time includes the collection in between).
    """

    def __init__(self) -> None:
        self.rates: list[tuple[int, float]] = []
        self._last: tuple[int, float] | None = None

    def __call__(self, train_step: int, force_trigger: bool = False) -> None:
        now = time.perf_counter()
        if self._last is not None and train_step > self._last[0]:
            rate = (train_step - self._last[0]) / (now - self._last[1])
            self.rates.append((int(train_step), rate))
            tf.summary.scalar("Metrics/train_steps_per_second", rate, step=train_step)
        self._last = (int(train_step), now)


def warm_up(env, memory, train_step, settings: ContinuousSettings, seed: int) -> int:
    """Random play into the replay before training (an ``Actor``); return the steps played."""
    steps = max(settings.initial_collect_steps, 1)  # the learner needs something to read
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=seed)
    actor.Actor(env, policy, train_step, steps_per_run=steps, observers=[memory.observer]).run()
    return steps


def reset_observer(memory) -> None:
    """Drop the observer's unfinished sample: a new ``Actor`` has just reset the environment."""
    if hasattr(memory.observer, "reset"):  # Reverb's observer; the uniform buffer has none
        memory.observer.reset(write_cached_steps=False)


def finite_loss(loss, train_step: int, env_steps: int, last_finite: float) -> float:
    """``loss`` as a float; a FloatingPointError naming the step when it is NaN or infinite."""
    loss = float(loss)
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"The loss became {loss} at train step {train_step:,} (environment step "
            f"{env_steps:,}); the last finite loss was {last_finite:.4g}. Try a smaller "
            "learning_rate or a larger batch_size."
        )
    return loss


def checkpointed(checkpoints, settings, agent, train_step, memory, history, start) -> RunSaver:
    """Connect one run of :func:`train` to a checkpoint folder (notebook 11; None: no saves).

    A checkpoint holds the agent (actor, critics, their targets, optimizers, SAC's
    temperature), the shared train step, the replay memory (Reverb's own checkpoint of its
    table, or the uniform buffer's variables) and the history. The episode in progress is
    not kept: a resumed run starts a new one.
    """
    parts = Parts(
        tf={"agent": agent, "train_step": train_step, **memory.trackables()},
        save_extra=lambda folder: memory.save_to(folder / "reverb"),
        load_extra=lambda folder: memory.restore_from(folder / "reverb"),
    )
    identity = {
        "trainer": f"continuous_{settings.agent}",
        "env_name": settings.env_name,
        "actor_layers": list(settings.actor_layers),
        "critic_observation_layers": list(settings.critic_observation_layers or ()),
        "critic_layers": list(settings.critic_layers),
        "replay": type(memory).__name__,
        "replay_capacity": settings.replay_capacity,
    }
    return RunSaver(
        checkpoints, parts, identity=identity, settings=settings, history=history, start=start
    )


def greedy_checks(agent, settings, history, start: float, *, seed: int = 0) -> SolveCheck:
    """The quick and the full greedy check on plain Gym environments, stepped together."""
    actions = evaluation.policy_actions(greedy_policy(agent))
    quick, full = gym_checks(settings, actions, seed=seed, discrete=False)
    return SolveCheck(history, quick=quick, full=full, target=settings.target_return, start=start)
