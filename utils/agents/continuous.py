"""Continuous control: DDPG, TD3 and SAC on Pendulum-v1 with TF-Agents' actor-learner API.

The training loop works in phases, as the course's DQN does: an ``Actor`` (``tf_agents.train``)
plays ``collect_steps_per_iteration`` environment steps into the replay (Reverb where it can be
imported), one draw of ``sample_size`` transitions is taken from the replay, and a ``Learner``
runs ``train_steps_per_iteration`` train steps in one compiled call on minibatches sliced from
that draw. After each phase a quick greedy check of ``eval_episodes`` episodes runs, and the
full check of ``solve_episodes`` episodes only when it passes (``SolveCheck``).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass

from utils import envs
from utils.infra import report
from utils.infra.report import Stopwatch
from utils.rl import evaluation, replay
from utils.rl.training import History, SolveCheck, TrainerSettings, gym_checks

AGENTS = ("ddpg", "td3", "sac")


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContinuousSettings(TrainerSettings):
    """Every hyperparameter of a continuous-control run (defaults: the course's, for SAC)."""

    name: str = "course"  # what summaries and benchmarks call these settings
    agent: str = "sac"  # "ddpg", "td3" or "sac"
    env_name: str = "Pendulum-v1"
    # Networks: the actor and the critic each have these Dense ReLU layers.
    hidden_layers: tuple[int, ...] = (64, 64)
    learning_rate: float = 1e-3  # Adam's step size, for every network (and SAC's temperature)
    gamma: float = 0.99  # discount of future rewards
    target_update_tau: float = 0.005  # soft update of the target networks after each train step
    # Exploration while collecting (DDPG, TD3): noise added to the actor's action.
    exploration_noise: float = 0.1  # TD3: Gaussian std; DDPG: Ornstein-Uhlenbeck std
    ou_damping: float = 0.15  # DDPG: how fast the Ornstein-Uhlenbeck noise returns to 0
    actor_update_period: int = 2  # TD3: train the actor every this many train steps
    # Replay and phases.
    replay_capacity: int = 100_000
    initial_collect_steps: int = 1000  # random-policy steps before training starts
    collect_steps_per_iteration: int = 200  # environment steps per phase, then ...
    train_steps_per_iteration: int = 200  # ... this many train steps
    sample_size: int = 4096  # transitions drawn from the replay per phase (minibatch pool)
    batch_size: int = 256  # transitions per train step
    max_env_steps: int = 30_000  # give up here if not solved before
    # "Solved": Pendulum-v1 has no threshold of its own; -200 over 100 episodes is the bar.
    target_return: float | None = -200.0
    max_episode_return: float | None = 0.0  # Pendulum's rewards are never positive

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        super().validate()
        self.require_one_of("agent", AGENTS)
        self.require_sizes("hidden_layers")
        self.require_positive("learning_rate", "exploration_noise")
        self.require_between("gamma", "ou_damping")
        self.require_fraction("target_update_tau")
        self.require_whole(
            "actor_update_period",
            "replay_capacity",
            "collect_steps_per_iteration",
            "train_steps_per_iteration",
            "sample_size",
            "batch_size",
            "max_env_steps",
        )
        self.require_whole("initial_collect_steps", minimum=0)
        self.require_at_least("sample_size", "batch_size", why="minibatches come from one draw")
        self.require_at_least(
            "max_env_steps", "initial_collect_steps", why="the random warm-up comes first"
        )


COURSE = ContinuousSettings()


# --- environment and agents ------------------------------------------------------------------


def make_env(env_name: str = "Pendulum-v1", seed: int | None = None):
    """A TF-Agents Python environment whose step limit truncates episodes (discount 1).

    ``suite_gym.load`` would keep Gym's own ``TimeLimit``, which reports the end of the clock
    as ``done`` and so as a termination (discount 0); here Gym's limit is removed and
    TF-Agents' ``TimeLimit`` ends the episode without zeroing the discount.
    """
    import gym
    from tf_agents.environments import suite_gym

    envs.check_env_name(env_name)
    spec = gym.spec(env_name)
    env = suite_gym.wrap_env(spec.make().unwrapped, max_episode_steps=spec.max_episode_steps)
    if seed is not None:
        env.seed(seed)
    return env


def check_action_spec(agent_name: str, action_spec) -> None:
    """One clear line when ``agent_name`` cannot act in an environment with ``action_spec``."""
    import tensorflow as tf

    continuous = agent_name in AGENTS
    is_float = tf.as_dtype(action_spec.dtype).is_floating
    if continuous and not is_float:
        raise ValueError(
            f"{agent_name.upper()} needs continuous actions, but this environment's action spec "
            f"is {action_spec}; for discrete actions use DQN (notebooks 03 and 07) or the "
            "actor-critic and PPO of notebook 08."
        )
    if not continuous and is_float:
        raise ValueError(
            f"{agent_name} needs discrete actions, but this environment's action spec is "
            f"{action_spec}; for continuous actions use one of {', '.join(AGENTS)}."
        )


def build_agent(settings: ContinuousSettings, env, train_step):
    """A ``DdpgAgent``, ``Td3Agent`` or ``SacAgent`` for ``env``, built from ``settings``."""
    import tensorflow as tf
    from tf_agents.agents.ddpg import actor_network, critic_network, ddpg_agent
    from tf_agents.agents.sac import sac_agent, tanh_normal_projection_network
    from tf_agents.agents.td3 import td3_agent
    from tf_agents.networks import actor_distribution_network
    from tf_agents.train.utils import spec_utils

    observation_spec, action_spec, time_step_spec = spec_utils.get_tensor_specs(env)
    check_action_spec(settings.agent, action_spec)
    layers = settings.hidden_layers
    critic = critic_network.CriticNetwork(
        (observation_spec, action_spec),
        joint_fc_layer_params=layers,
        kernel_initializer="glorot_uniform",
        last_kernel_initializer="glorot_uniform",
    )

    def adam():
        return tf.keras.optimizers.Adam(settings.learning_rate)

    common = {
        "critic_network": critic,
        "actor_optimizer": adam(),
        "critic_optimizer": adam(),
        "target_update_tau": settings.target_update_tau,
        "target_update_period": 1,
        "gamma": settings.gamma,
        "td_errors_loss_fn": tf.math.squared_difference,
        "train_step_counter": train_step,
    }
    if settings.agent == "sac":
        actor = actor_distribution_network.ActorDistributionNetwork(
            observation_spec,
            action_spec,
            fc_layer_params=layers,
            continuous_projection_net=tanh_normal_projection_network.TanhNormalProjectionNetwork,
        )
        agent_class, extra = sac_agent.SacAgent, {"alpha_optimizer": adam()}
    else:
        actor = actor_network.ActorNetwork(observation_spec, action_spec, fc_layer_params=layers)
        agent_class, extra = {
            "td3": (
                td3_agent.Td3Agent,
                {
                    "exploration_noise_std": settings.exploration_noise,
                    "actor_update_period": settings.actor_update_period,
                },
            ),
            "ddpg": (
                ddpg_agent.DdpgAgent,
                {"ou_stddev": settings.exploration_noise, "ou_damping": settings.ou_damping},
            ),
        }[settings.agent]
    agent = agent_class(time_step_spec, action_spec, actor_network=actor, **common, **extra)
    agent.initialize()
    return agent


def greedy_policy(agent):
    """The policy to evaluate: the actor's own action (SAC: the mean of its distribution)."""
    from tf_agents.agents.sac import sac_agent
    from tf_agents.policies import greedy_policy as greedy

    if isinstance(agent, sac_agent.SacAgent):  # SAC's agent.policy samples
        return greedy.GreedyPolicy(agent.policy)
    return agent.policy


# --- the minibatch pool ----------------------------------------------------------------------


class MinibatchPool:
    """One draw of transitions per phase, and an endless dataset of minibatches sliced from it.

    ``refill()`` takes ``sample_size`` two-step samples from the replay into variables; the
    dataset gathers ``batch_size`` of them at random for every train step, skipping samples
    that straddle two episodes (a last step followed by the next episode's first).
    """

    def __init__(self, replay_memory, sample_size: int, batch_size: int) -> None:
        import tensorflow as tf

        self._draws = iter(replay_memory.dataset(sample_size, num_steps=2, prefetch=1))
        experience, info = next(self._draws)
        self._pool = tf.nest.map_structure(
            lambda t: tf.Variable(t, trainable=False), (experience, info)
        )
        self._valid = tf.Variable(self._valid_mask(experience), trainable=False)
        self.batch_size = batch_size

    @staticmethod
    def _valid_mask(experience):
        import tensorflow as tf

        return tf.cast(~experience.is_boundary()[:, 0], tf.float32)

    def refill(self) -> None:
        """Replace the pool with a fresh draw from the replay."""
        import tensorflow as tf

        experience, info = next(self._draws)
        tf.nest.map_structure(lambda v, t: v.assign(t), self._pool, (experience, info))
        self._valid.assign(self._valid_mask(experience))

    def dataset(self):
        """An endless ``tf.data.Dataset`` of ``(experience, info)`` minibatches from the pool."""
        import tensorflow as tf

        def minibatch(_):
            logits = tf.math.log(self._valid)[None]  # -inf for invalid samples
            index = tf.random.categorical(logits, self.batch_size)[0]
            return tf.nest.map_structure(lambda v: tf.gather(v, index), self._pool)

        return tf.data.Dataset.range(2**62).map(minibatch)


# --- training ------------------------------------------------------------------------------


def greedy_checks(agent, settings, history, start: float, *, seed: int = 0) -> SolveCheck:
    """The quick and the full greedy check on plain Gym environments, stepped together."""
    actions = evaluation.policy_actions(greedy_policy(agent))
    quick, full = gym_checks(settings, actions, seed=seed, discrete=False)
    return SolveCheck(history, quick=quick, full=full, target=settings.target_return, start=start)


def train(
    settings: ContinuousSettings = COURSE,
    *,
    seed: int = 0,
    root_dir: str | None = None,
    backend: str = "auto",
    progress: bool = True,
):
    """Train ``settings.agent`` until solved or ``max_env_steps``; return ``(agent, history)``.

    ``root_dir`` receives the learner's TensorBoard summaries (``root_dir/train``); it must not
    hold an earlier run's checkpoints, which the ``Learner`` would restore. ``None``: a new
    temporary folder. The replay is closed at the end.
    """
    import tensorflow as tf
    from tf_agents.policies import py_tf_eager_policy, random_py_policy
    from tf_agents.train import actor, learner
    from tf_agents.train.utils import train_utils

    tf.keras.utils.set_random_seed(seed)
    env = make_env(settings.env_name, seed=seed)
    train_step = train_utils.create_train_step()
    agent = build_agent(settings, env, train_step)
    history = History(label=f"{settings.name} {settings.agent.upper()}")
    root_dir = root_dir or tempfile.mkdtemp(prefix=f"{settings.agent}_")
    memory = replay.make_replay(
        agent.collect_data_spec,
        settings.replay_capacity,
        backend=backend,
        table_name=f"continuous_{settings.agent}",
    )
    try:
        observers = [memory.observer]
        warm_up = max(settings.initial_collect_steps, 1)  # the pool needs something to draw
        start = time.perf_counter()
        with Stopwatch(history.timings, "collect"):
            random_policy = random_py_policy.RandomPyPolicy(
                env.time_step_spec(), env.action_spec(), seed=seed
            )
            actor.Actor(
                env,
                random_policy,
                train_step,
                steps_per_run=warm_up,
                observers=observers,
            ).run()
        pool = MinibatchPool(memory, settings.sample_size, settings.batch_size)
        trainer = learner.Learner(
            root_dir,
            train_step,
            agent,
            pool.dataset,
            checkpoint_interval=-1,
            summary_interval=settings.train_steps_per_iteration,
        )
        collect_policy = py_tf_eager_policy.PyTFEagerPolicy(
            agent.collect_policy, use_tf_function=True
        )
        collector = actor.Actor(
            env,
            collect_policy,
            train_step,
            steps_per_run=settings.collect_steps_per_iteration,
            observers=observers,
        )
        if hasattr(memory.observer, "reset"):
            memory.observer.reset(write_cached_steps=False)  # the Actor reset the env
        check = greedy_checks(agent, settings, history, start, seed=seed)
        env_steps, iterations = warm_up, 0
        last_finite = math.nan
        total = math.ceil(
            (settings.max_env_steps - env_steps) / settings.collect_steps_per_iteration
        )
        bar = report.progress_bar(range(total), desc=history.label, disable=not progress)
        for _ in bar:
            with Stopwatch(history.timings, "collect"):
                collector.run()
            env_steps += settings.collect_steps_per_iteration
            with Stopwatch(history.timings, "train"):
                pool.refill()
                loss = float(trainer.run(iterations=settings.train_steps_per_iteration).loss)
            iterations += 1
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"The loss became {loss} at train step {int(train_step)} (environment step "
                    f"{env_steps:,}); the last finite loss was {last_finite:.4g}. Try a smaller "
                    "learning_rate or a larger batch_size."
                )
            last_finite = history.record_loss(env_steps, loss)
            solved = check(env_steps)
            check.progress(bar, env_steps, loss)
            if solved:
                break
        check.progress(bar, env_steps, last_finite, close=True)
        history.finish(
            start, iterations=iterations, env_steps=env_steps, train_steps=int(train_step)
        )
    finally:
        memory.close()
    return agent, history
