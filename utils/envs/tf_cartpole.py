"""CartPole in TensorFlow ops: a batch of environments stepped inside the graph.

Taught in notebook 09. The physics is Gym 0.23's ``CartPoleEnv`` (Euler integration, the same
constants and the same termination rule), written with TensorFlow ops on a batch of states,
so thousands of environments step in one op and the whole loop can run inside one
``tf.function`` (optionally compiled with XLA). ``tests/test_tf_cartpole.py`` checks it against
Gym transition for transition.

Two interfaces:
- Pure functions (:func:`physics_step`, :func:`reset_states`, :func:`autoreset_step`) for
  code that keeps the state itself, like ``utils.agents.fast_dqn``.
- :class:`TFCartPole`, a TF-Agents ``TFEnvironment`` (batched, auto-resetting, with the
  500-step time limit as a truncation), for drivers and policies.

Importing this module imports TensorFlow and TF-Agents.
"""

from __future__ import annotations

import math
import time

import numpy as np
import tensorflow as tf
from tf_agents.environments import tf_environment
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

# Gym 0.23 CartPoleEnv's constants.
GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_POLE + MASS_CART
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASS_POLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds between state updates
THETA_THRESHOLD = 12 * 2 * math.pi / 360  # the pole falls beyond 12 degrees
X_THRESHOLD = 2.4  # the cart leaves the track beyond 2.4
MAX_EPISODE_STEPS = 500  # CartPole-v1's time limit
RESET_BOUND = 0.05  # reset draws every state variable uniformly from [-0.05, 0.05]


# BEGIN generated from notebooks/09_training_fast.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def physics_step(state, action):
    """Gym CartPole's transition for a batch: state [B, 4], action [B] -> (next, terminated)."""
    x, x_dot, theta, theta_dot = tf.unstack(state, axis=-1)
    dtype = state.dtype
    force = tf.where(tf.equal(action, 1), FORCE_MAG, -FORCE_MAG)
    force = tf.cast(force, dtype)
    costheta = tf.cos(theta)
    sintheta = tf.sin(theta)
    temp = (force + POLEMASS_LENGTH * theta_dot**2 * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (
        LENGTH * (4.0 / 3.0 - MASS_POLE * costheta**2 / TOTAL_MASS)
    )
    xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    # Euler steps: positions move with the old speeds, then the speeds change.
    x = x + TAU * x_dot
    x_dot = x_dot + TAU * xacc
    theta = theta + TAU * theta_dot
    theta_dot = theta_dot + TAU * thetaacc
    terminated = (
        (x < -X_THRESHOLD)
        | (x > X_THRESHOLD)
        | (theta < -THETA_THRESHOLD)
        | (theta > THETA_THRESHOLD)
    )
    return tf.stack([x, x_dot, theta, theta_dot], axis=-1), terminated


# END generated from notebooks/09_training_fast.ipynb


def reset_states(generator: tf.random.Generator, batch_size: int, dtype=tf.float32) -> tf.Tensor:
    """Fresh start states like Gym's ``reset``: each variable uniform in [-0.05, 0.05]."""
    return generator.uniform([batch_size, 4], -RESET_BOUND, RESET_BOUND, dtype=dtype)


def autoreset_step(
    state: tf.Tensor,
    steps: tf.Tensor,
    action: tf.Tensor,
    generator: tf.random.Generator,
    max_episode_steps: int = MAX_EPISODE_STEPS,
) -> dict[str, tf.Tensor]:
    """Step a batch; environments whose episode ended restart at once (gymnax style).

    Returns a dict: ``next_observation`` (the state the transition led to, before any reset),
    ``terminated`` (the pole fell or the cart left: discount 0), ``truncated`` (the time
    limit, not a failure: discount 1), ``reward`` (1 every step, as in Gym), and ``state``
    and ``steps`` to continue from (reset where the episode ended).
    """
    next_state, terminated = physics_step(state, action)
    steps = steps + 1
    truncated = tf.logical_and(steps >= max_episode_steps, tf.logical_not(terminated))
    done = terminated | truncated
    fresh = reset_states(generator, tf.shape(state)[0], state.dtype)
    return {
        "next_observation": next_state,
        "terminated": terminated,
        "truncated": truncated,
        "reward": tf.ones_like(steps, dtype=state.dtype),
        "state": tf.where(done[:, None], fresh, next_state),
        "steps": tf.where(done, tf.zeros_like(steps), steps),
    }


class TFCartPole(tf_environment.TFEnvironment):
    """A batch of CartPole-v1 environments in TensorFlow ops, as a TF-Agents ``TFEnvironment``.

    Follows TF-Agents' conventions: ``step`` returns FIRST, MID or LAST time steps; a LAST
    step has discount 0 when the pole fell or the cart left (termination) and discount 1 when
    the 500-step limit cut the episode (truncation); the ``step`` after a LAST step ignores
    its action and starts a new episode (reward 0, FIRST), like an auto-resetting
    ``PyEnvironment``. Each environment in the batch does this on its own. The state lives in
    ``tf.Variable``s, so stepping works eagerly, in a ``tf.function`` and under XLA, on
    whichever device TensorFlow places it (a GPU when it sees one).

    ``dtype`` is the physics' precision (Gym computes in float64; float32 is faster and agrees
    to about 1e-6); observations are always float32, as Gym returns them.
    """

    def __init__(
        self,
        batch_size: int = 1,
        *,
        seed: int = 0,
        max_episode_steps: int = MAX_EPISODE_STEPS,
        dtype=tf.float32,
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1; got {max_episode_steps!r}.")
        dtype = tf.as_dtype(dtype)
        if dtype not in (tf.float32, tf.float64):
            raise ValueError(f"dtype must be tf.float32 or tf.float64; got {dtype!r}.")
        high = np.array(
            [
                X_THRESHOLD * 2,
                np.finfo(np.float32).max,
                THETA_THRESHOLD * 2,
                np.finfo(np.float32).max,
            ],
            dtype=np.float32,
        )
        observation_spec = tensor_spec.BoundedTensorSpec(
            [4], tf.float32, minimum=-high, maximum=high, name="observation"
        )
        action_spec = tensor_spec.BoundedTensorSpec(
            [], tf.int64, minimum=0, maximum=1, name="action"
        )
        super().__init__(
            ts.time_step_spec(observation_spec), action_spec, batch_size=int(batch_size)
        )
        self.max_episode_steps = int(max_episode_steps)
        self.physics_dtype = dtype
        self._generator = tf.random.Generator.from_seed(seed)
        self._state = tf.Variable(
            reset_states(self._generator, self.batch_size, dtype), trainable=False, name="state"
        )
        self._steps = tf.Variable(
            tf.zeros([self.batch_size], tf.int32), trainable=False, name="steps"
        )
        # The step type of the current time step, and its reward and discount.
        self._step_type = tf.Variable(
            tf.fill([self.batch_size], ts.StepType.FIRST), trainable=False, name="step_type"
        )
        self._reward = tf.Variable(tf.zeros([self.batch_size]), trainable=False, name="reward")
        self._discount = tf.Variable(tf.ones([self.batch_size]), trainable=False, name="discount")

    @property
    def state_device(self) -> str:
        """The device holding the environment's state (a GPU when TensorFlow has one)."""
        return self._state.device

    def _time_step(self) -> ts.TimeStep:
        return ts.TimeStep(
            step_type=tf.identity(self._step_type),
            reward=tf.identity(self._reward),
            discount=tf.identity(self._discount),
            observation=tf.identity(tf.cast(self._state, tf.float32)),
        )

    def _current_time_step(self) -> ts.TimeStep:
        return self._time_step()

    def _reset(self) -> ts.TimeStep:
        self._state.assign(reset_states(self._generator, self.batch_size, self.physics_dtype))
        self._steps.assign(tf.zeros_like(self._steps))
        self._step_type.assign(tf.fill([self.batch_size], ts.StepType.FIRST))
        self._reward.assign(tf.zeros_like(self._reward))
        self._discount.assign(tf.ones_like(self._discount))
        return self._time_step()

    def _step(self, action) -> ts.TimeStep:
        action = tf.reshape(tf.convert_to_tensor(action), [self.batch_size])
        restart = tf.equal(self._step_type, ts.StepType.LAST)
        next_state, terminated = physics_step(self._state, action)
        steps = self._steps + 1
        truncated = (steps >= self.max_episode_steps) & ~terminated
        last = terminated | truncated
        fresh = reset_states(self._generator, self.batch_size, self.physics_dtype)
        self._state.assign(tf.where(restart[:, None], fresh, next_state))
        self._steps.assign(tf.where(restart, tf.zeros_like(steps), steps))
        step_type = tf.where(last, ts.StepType.LAST, ts.StepType.MID)
        self._step_type.assign(tf.where(restart, ts.StepType.FIRST, step_type))
        self._reward.assign(tf.where(restart, 0.0, 1.0))
        self._discount.assign(tf.where(terminated & ~restart, 0.0, 1.0))
        return self._time_step()

    def set_state(self, state) -> None:
        """Start a new episode in every environment from the given states [B, 4] (for tests)."""
        self._state.assign(tf.cast(state, self.physics_dtype))
        self._steps.assign(tf.zeros_like(self._steps))
        self._step_type.assign(tf.fill([self.batch_size], ts.StepType.FIRST))


def random_stepper(batch_size: int, *, jit_compile: bool = False, seed: int = 0, dtype=tf.float32):
    """A ``tf.function`` ``run(num_steps)`` stepping ``batch_size`` CartPoles with random actions.

    Everything (random actions, physics, resets) stays inside one ``tf.function``; it returns
    the number of finished episodes, so that no step can be optimised away.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size!r}.")
    generator = tf.random.Generator.from_seed(seed)
    state0 = reset_states(generator, batch_size, dtype)

    @tf.function(jit_compile=jit_compile, autograph=False)
    def run(num_steps):
        def body(i, state, steps, episodes):
            action = generator.uniform([batch_size], 0, 2, dtype=tf.int32)
            out = autoreset_step(state, steps, action, generator)
            finished = tf.reduce_sum(tf.cast(out["terminated"] | out["truncated"], tf.int64))
            return i + 1, out["state"], out["steps"], episodes + finished

        _, _, _, episodes = tf.while_loop(
            lambda i, *_: i < num_steps,
            body,
            (tf.constant(0), state0, tf.zeros([batch_size], tf.int32), tf.constant(0, tf.int64)),
        )
        return episodes

    return run


def steps_per_second(
    batch_size: int, *, jit_compile: bool = False, seconds: float = 0.5, seed: int = 0
) -> float:
    """Random-action steps per second of :func:`random_stepper`, measured after compiling."""
    run = random_stepper(batch_size, jit_compile=jit_compile, seed=seed)
    run(tf.constant(2)).numpy()  # trace and compile
    num_steps = 64
    while True:  # grow the loop until one call takes long enough to time
        start = time.perf_counter()
        run(tf.constant(num_steps)).numpy()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4 or num_steps >= 2**26:
            break
        num_steps *= 4
    best = elapsed
    for _ in range(2):
        start = time.perf_counter()
        run(tf.constant(num_steps)).numpy()
        best = min(best, time.perf_counter() - start)
    return batch_size * num_steps / best


def xla_available() -> tuple[bool, str]:
    """Whether ``tf.function(jit_compile=True)`` works here, and a note saying why not if not."""
    try:
        steps_fn = random_stepper(2, jit_compile=True)
        steps_fn(tf.constant(3)).numpy()
        return True, "XLA (jit_compile=True) works"
    except Exception as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        return False, f"XLA unavailable here ({type(error).__name__}: {first_line[:200]})"
