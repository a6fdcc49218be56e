"""Actor-critic in plain TensorFlow/Keras: returns, model, loss, training loop, fast evaluation.

Taught in notebook 08. One network with a shared hidden layer and two heads: the **actor**
(a softmax over actions, the policy) and the **critic** (an estimate of the state's value).
Trained episode by episode on Monte-Carlo returns, with the critic as a baseline.

The algorithm (model, returns, loss, playing an episode, the train step and the loop) is the
generated block below, copied from the notebook's ``#@save`` cells; the rest of the module is
the course's bookkeeping that the loop calls (the checks, the history, the progress bar) and
evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from utils import envs
from utils.infra import report
from utils.infra.report import Stopwatch
from utils.infra.runtime import LazyModule
from utils.rl.checkpoints import Parts, RunSaver
from utils.rl.evaluation import EvalResult, evaluate_gym
from utils.rl.training import History, SolveCheck, TrainerSettings, check_between

tf = LazyModule("tensorflow")  # imported at first use, after the notebook's setup cell


@dataclass(frozen=True, kw_only=True)
class ActorCriticSettings(TrainerSettings):
    """Every hyperparameter of an actor-critic run on CartPole. Taught in notebook 08.

    The environment and the rule for "solved" come from ``TrainerSettings``; here an
    iteration is one training episode.
    """

    hidden_units: int = 128  # width of the shared hidden layer
    learning_rate: float = 0.01  # Adam's step size
    gamma: float = 0.99  # discount of future rewards
    max_episodes: int = 3000  # give up after this many training episodes
    running_reward_decay: float = 0.95  # running = decay * running + (1 - decay) * episode
    # Greedy checks start once the running reward reaches `eval_gate`, then run every
    # `eval_interval` episodes.
    eval_gate: float = 300.0
    eval_interval: int = 5

    def validate(self) -> None:
        """Reject settings that cannot run, naming the wrong value."""
        super().validate()
        self.require_whole("hidden_units", "max_episodes")
        self.require_positive("learning_rate")
        self.require_between("gamma")
        if not 0.0 <= self.running_reward_decay < 1.0:
            raise ValueError(
                f"running_reward_decay must be in [0, 1), got {self.running_reward_decay!r}."
            )


# --- the pieces of the algorithm, as notebook 08 teaches them ---------------------------------

# BEGIN generated from notebooks/08_actor_critic.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def build_model(num_inputs=4, num_actions=2, hidden_units=128):
    """A Keras model: one shared ReLU layer, an actor head (softmax) and a critic head (value)."""
    for name, value in (("num_inputs", num_inputs), ("num_actions", num_actions)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
    if not isinstance(hidden_units, int) or hidden_units < 1:
        raise ValueError(f"hidden_units must be a whole number >= 1, got {hidden_units!r}.")
    inputs = tf.keras.layers.Input(shape=(num_inputs,), name="observation")
    common = tf.keras.layers.Dense(hidden_units, activation="relu", name="shared")(inputs)
    action_probs = tf.keras.layers.Dense(num_actions, activation="softmax", name="actor")(common)
    value = tf.keras.layers.Dense(1, name="critic")(common)
    return tf.keras.Model(inputs=inputs, outputs=[action_probs, value], name="actor_critic")


def discounted_returns(rewards, gamma, *, normalize=True, eps=1e-8):
    """Discounted return from every step of one episode: G_t = r_t + gamma * G_{t+1}.

    With ``normalize`` the returns are shifted and scaled to mean 0 and standard deviation 1
    (``eps`` guards against dividing by zero when all returns are equal, e.g. a 1-step episode).
    """
    gamma = check_between("gamma", gamma, 0.0, 1.0)
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim != 1 or rewards.size == 0:
        raise ValueError(
            "rewards must hold one episode: a 1-D sequence of at least one reward, got shape "
            f"{rewards.shape}."
        )
    returns = np.empty_like(rewards)
    running = 0.0
    for t in range(rewards.size - 1, -1, -1):  # backwards: G_t needs G_{t+1}
        running = rewards[t] + gamma * running
        returns[t] = running
    if normalize:
        returns = (returns - returns.mean()) / (returns.std() + eps)
    return returns.astype(np.float32)


def actor_critic_loss(action_probs, values, actions, returns):
    """Return ``(actor_loss, critic_loss)``, each summed over the steps of one episode.

    ``action_probs``: (T, num_actions) softmax outputs; ``values``: (T,) or (T, 1) critic
    outputs; ``actions``: (T,) actions taken; ``returns``: (T,) (normalised) returns.
    """
    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    returns = tf.reshape(tf.cast(returns, tf.float32), [-1])
    actions = tf.reshape(tf.cast(actions, tf.int32), [-1])
    taken = tf.gather(action_probs, actions, axis=1, batch_dims=1)  # π(a_t | s_t)
    log_probs = tf.math.log(tf.maximum(taken, 1e-8))
    advantages = returns - tf.stop_gradient(values)  # the actor must not move the critic
    actor_loss = -tf.reduce_sum(log_probs * advantages)
    huber = tf.keras.losses.Huber(reduction=tf.keras.losses.Reduction.SUM)
    critic_loss = huber(returns[:, None], values[:, None])
    return actor_loss, critic_loss


def play_episode(env, model, rng, *, act=None):
    """Play one episode in a Gymnasium env, sampling each action from the actor's probabilities.

    Returns (observations, actions, rewards) as arrays. ``act`` is the compiled model call
    (``make_act(model)``), built here when omitted.
    """
    act = act or make_act(model)
    (observation, _), done = env.reset(), False
    observations, actions, rewards = [], [], []
    while not done:
        probs = act(np.asarray(observation, np.float32)[None]).numpy()[0].astype(np.float64)
        action = int(rng.choice(probs.size, p=probs / probs.sum()))  # sampled: exploration
        observations.append(observation)
        actions.append(action)
        observation, reward, terminated, truncated, _ = env.step(action)
        done = terminated or truncated  # the pole fell, or the clock ran out
        rewards.append(reward)
    return (
        np.asarray(observations, np.float32),
        np.asarray(actions, np.int32),
        np.asarray(rewards, np.float32),
    )


def make_train_step(model, optimizer):
    """A compiled function that takes one gradient step on one episode; returns both losses."""

    @tf.function(reduce_retracing=True)
    def train_step(observations, actions, returns):
        with tf.GradientTape() as tape:
            action_probs, values = model(observations, training=True)  # the whole episode
            actor_loss, critic_loss = actor_critic_loss(action_probs, values, actions, returns)
            loss = actor_loss + critic_loss
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return actor_loss, critic_loss

    return train_step


def train(
    model, settings, *, seed=0, progress=True, returns_fn=None, make_step=None, checkpoints=None
):
    """Train ``model`` episode by episode; stop at the first full check that passes.

    Returns an ``ActorCriticHistory``; the model keeps the weights that solved the task.
    ``returns_fn`` and ``make_step`` replace ``discounted_returns`` and ``make_train_step``.
    ``checkpoints`` (notebook 11) continues the run saved in its folder, and saves it there.
    """
    s, start, history = settings, time.perf_counter(), ActorCriticHistory(label="actor-critic")
    returns_fn, make_step = returns_fn or discounted_returns, make_step or make_train_step
    env, rng = envs.make_env(s.env_name, seed=seed), np.random.default_rng(seed)
    act = make_act(model)  # the actor's probabilities, compiled
    optimizer = tf.keras.optimizers.Adam(learning_rate=s.learning_rate)
    train_step = make_step(model, optimizer)
    solved = ac_checks(model, s, history, start, act=act)  # the quick check, then the full one
    run = ac_checkpointed(checkpoints, s, model, optimizer, env, rng, solved)  # None: no saves
    run.resume()  # a saved run, if any: weights, optimizer, generators and history as they were
    first, last = run.iteration + 1, run.iteration if history.solved else s.max_episodes
    bar = report.progress_bar(range(first, last + 1), desc="actor-critic", disable=not progress)
    running = history.running_rewards[-1] if history.running_rewards else 0.0  # running reward
    episode = run.iteration
    for episode in bar:
        with Stopwatch(history.timings, "collect"):
            observations, actions, rewards = play_episode(env, model, rng, act=act)
        with Stopwatch(history.timings, "train"):
            returns = returns_fn(rewards, s.gamma)
            actor_loss, critic_loss = train_step(observations, actions, returns)
        decay = s.running_reward_decay if episode > 1 else 0.0  # it starts at the first return
        running = decay * running + (1 - decay) * float(rewards.sum())
        history.record_episode(rewards, running, actor_loss, critic_loss)
        due = running >= s.eval_gate and episode % s.eval_interval == 0  # time for a check?
        if due and solved(history.env_steps, episode):
            history.episodes_to_solve = episode
            break  # keep the weights that solved the task
        show_progress(bar, running, solved)
        run.after_iteration(episode, history.env_steps, episode)  # saves when due
    show_progress(bar, running, solved, close=True)
    env.close()
    history.finish(run.start, iterations=episode, env_steps=history.env_steps, train_steps=episode)
    run.finish(episode, history.env_steps, episode)  # the last checkpoint
    return history


# END generated from notebooks/08_actor_critic.ipynb


# --- the course's bookkeeping, which the loop calls ----------------------------------------


def make_act(model) -> Callable:
    """A compiled function: a batch of observations -> the actor's action probabilities."""

    @tf.function(reduce_retracing=True)
    def act(observations):
        return model(observations, training=False)[0]

    return act


@dataclass
class ActorCriticHistory(History):
    """What happened during :func:`train`; ``History`` holds what every trainer records.

    Here ``losses`` holds each episode's actor + critic loss.
    """

    episode_returns: list[float] = field(default_factory=list)
    running_rewards: list[float] = field(default_factory=list)
    actor_losses: list[float] = field(default_factory=list)
    critic_losses: list[float] = field(default_factory=list)
    eval_at_episodes: list[int] = field(default_factory=list)  # episode of each quick check
    full_eval_at_episodes: list[int] = field(default_factory=list)  # ... and of each full one
    episodes_to_solve: int | None = None

    def record_episode(self, rewards, running: float, actor_loss, critic_loss) -> None:
        """Note one training episode: its return and steps, the running reward, both losses."""
        self.episode_returns.append(float(np.sum(rewards)))
        self.running_rewards.append(float(running))
        self.actor_losses.append(float(actor_loss))
        self.critic_losses.append(float(critic_loss))
        self.env_steps += len(rewards)
        self.record_loss(self.env_steps, float(actor_loss) + float(critic_loss))


def ac_checks(
    model, settings: ActorCriticSettings, history: ActorCriticHistory, start: float, *, act=None
) -> SolveCheck:
    """The quick check and, when it passes, the full one (a ``SolveCheck``), for :func:`train`.

    Call it as ``check(env_steps, episode)``. Both play the model's greedy policy with
    :func:`evaluate_model`, from fresh starts: their seeds follow the episode number. The
    episode of every quick check goes into ``history.eval_at_episodes``; that of every full
    check into ``history.full_eval_at_episodes`` (``SolveCheck`` records whether it ran all its
    episodes in ``history.full_eval_complete``).
    """
    s = settings
    act = act or make_act(model)

    def play(episodes: int, seed: int) -> EvalResult:
        return evaluate_model(model, s.env_name, episodes, seed=seed, act=act, **s.stop_early)

    def quick(episode: int) -> EvalResult:
        history.eval_at_episodes.append(episode)
        return play(s.eval_episodes, 10_000 + episode)

    def full(episode: int) -> EvalResult:
        result = play(s.solve_episodes, 20_000 + episode)
        history.full_eval_at_episodes.append(episode)
        return result

    return SolveCheck(history, quick=quick, full=full, target=s.target_return, start=start)


def ac_parts(model, optimizer, env, rng) -> Parts:
    """What a checkpoint of :func:`train` holds, saved after whole episodes (notebook 11).

    The model and Adam's moments; the generator that samples the actions; the environment's
    generator, which draws each episode's start. Nothing else carries over from one episode to
    the next, so a resumed run goes on exactly as it would have. (The answer to notebook 11's
    exercise: read it after trying.)
    """
    return Parts(
        tf={"model": model, "optimizer": optimizer},
        attributes={
            "rng": (rng.bit_generator, ("state",)),
            "env": (env.unwrapped, ("np_random",)),
        },
    )


def ac_checkpointed(checkpoints, settings, model, optimizer, env, rng, check) -> RunSaver:
    """Connect one run of :func:`train` to a checkpoint folder (notebook 11; None: no saves).

    What is saved: :func:`ac_parts`, or ``checkpoints.parts_fn`` (same arguments) if set,
    and the history.
    """
    if checkpoints is not None:
        optimizer.build(model.trainable_variables)  # its variables exist, to be restored into
    parts_fn = getattr(checkpoints, "parts_fn", None) or ac_parts
    identity = {
        "trainer": "actor_critic",
        "env_name": settings.env_name,
        "weights": [list(w.shape) for w in model.weights],
    }
    parts = parts_fn(model, optimizer, env, rng)
    return RunSaver(checkpoints, parts, identity=identity, settings=settings, check=check)


def show_progress(bar, running: float, solved: SolveCheck, *, close: bool = False) -> None:
    """Show the running reward and the last check on a progress bar; ``close`` ends the bar."""
    report.update_bar(bar, {"running": f"{running:.0f}", "eval": solved.status}, close=close)


# --- watching, plotting and evaluating the model ------------------------------------------


def record_model_episode(
    model,
    env_name: str = "CartPole-v1",
    *,
    seed: int = 0,
    greedy: bool = True,
    max_steps=1000,
    trace: dict | None = None,
) -> tuple[list[np.ndarray], float]:
    """Play one episode of the model in a Gymnasium env and return its frames and its return.

    ``greedy`` picks the most likely action; otherwise actions are sampled as in training.
    A ``trace`` dict receives the actions taken (``"actions"``, an array) and why the episode
    ended (``"end"``, from :func:`why_episode_ended`).
    """
    env = envs.make_env(env_name, seed=seed, render_mode="rgb_array")
    act = make_act(model)
    rng = np.random.default_rng(seed)
    taken: list[int] = []

    def choose(observation) -> int:
        probs = act(np.asarray(observation, np.float32)[None]).numpy()[0].astype(np.float64)
        if greedy:
            action = int(np.argmax(probs))
        else:
            action = int(rng.choice(probs.size, p=probs / probs.sum()))
        taken.append(action)
        return action

    try:
        frames, total = envs.record_episode(env, choose, seed=seed, max_steps=max_steps)
        if trace is not None:
            trace["actions"] = np.asarray(taken, np.int32)
            trace["end"] = why_episode_ended(env, len(taken))
        return frames, total
    finally:
        env.close()


def why_episode_ended(env, steps: int) -> str:
    """Why a CartPole episode of ``steps`` steps stopped, read from the env it ended in.

    The pole tipped too far, the cart left the track, or the time limit cut it off (the
    limits are the environment's own).
    """
    core = env.unwrapped
    x, _, angle, _ = np.asarray(core.state, dtype=float)
    x_limit, angle_limit = float(core.x_threshold), float(core.theta_threshold_radians)
    if abs(x) > x_limit:
        return f"the cart left the track (position {x:+.3f}, limit ±{x_limit:g})"
    if abs(angle) > angle_limit:
        degrees, limit = np.degrees(angle), np.degrees(angle_limit)
        return f"the pole fell (angle {degrees:+.1f}°, limit ±{limit:.0f}°)"
    time_limit = getattr(env.spec, "max_episode_steps", None)
    if time_limit is not None and steps >= time_limit:
        return f"the time limit of {time_limit} steps (the pole was still up)"
    return f"it was stopped after {steps} steps, still going"


def draw_checks(axes, quick, full, *, target: float, quick_episodes: int, full_episodes: int):
    """Mark the greedy checks on a learning curve's ``axes``.

    ``quick``: ``(x, mean, complete)`` of each quick check, drawn as black squares; ``full``:
    the same for each full check, drawn as diamonds, green where the mean reached ``target``
    and red where it did not. A check that stopped early (``complete`` False: its mean covers
    only the episodes finished by then) is drawn hollow. Each kind drawn gets one legend entry.
    """
    kinds = {  # marker, colour, size, drawn above (z-order), legend label
        "quick": ("s", "black", 6, 5, f"quick check ({quick_episodes} greedy episodes)"),
        "passed": ("D", "tab:green", 10, 4, f"full check ({full_episodes} episodes): solved"),
        "failed": ("D", "tab:red", 10, 4, "full check failed"),
    }
    labelled = set()
    checks = [("quick", *check) for check in quick]
    checks += [("passed" if c[1] >= target else "failed", *c) for c in full]
    for kind, x, mean, complete in checks:
        marker, color, size, zorder, label = kinds[kind]
        if not complete:
            label += ", stopped early"
        axes.plot(
            x,
            mean,
            marker,
            color=color,
            markersize=size,
            mfc=color if complete else "none",
            mew=2,
            zorder=zorder,
            label=None if (kind, complete) in labelled else label,
        )
        labelled.add((kind, complete))


def evaluate_model(
    model,
    env_name: str | Callable = "CartPole-v1",
    num_episodes: int = 100,
    *,
    seed: int = 0,
    copies: int | None = None,
    act: Callable | None = None,
    target: float | None = None,
    max_episode_return: float | None = None,
    max_steps: int = 1_000_000,
) -> EvalResult:
    """Average return of the model's greedy policy, stepping several Gymnasium envs with one call.

    ``env_name`` is a Gymnasium id or a function returning a Gymnasium env (reset() ->
    (observation, info), step(a) -> (observation, reward, terminated, truncated, info)); a
    gym 0.23 env works too. ``copies`` envs (default: one per episode,
    at most 100) each play a fixed share of the episodes. With ``target`` and
    ``max_episode_return`` it stops once the target is out of reach (``complete=False``).
    """
    if not isinstance(num_episodes, int | np.integer) or num_episodes < 1:
        raise ValueError(f"num_episodes must be a whole number >= 1, got {num_episodes!r}.")
    copies = min(int(num_episodes), 100) if copies is None else int(copies)
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies!r}.")
    make = (lambda: envs.make_env(env_name)) if isinstance(env_name, str) else env_name
    act = act or make_act(model)

    def greedy(observations: np.ndarray) -> np.ndarray:  # the most likely action
        return np.argmax(act(observations).numpy(), axis=1)

    games = [make() for _ in range(copies)]
    try:
        return evaluate_gym(
            games,
            greedy,
            num_episodes,
            target=target,
            max_episode_return=max_episode_return,
            seed=seed,
            max_steps=max_steps,
        )
    finally:
        for env in games:
            env.close()
