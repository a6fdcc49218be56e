"""Tests for utils.envs.gymnasium_env: a Gymnasium 1.x environment as a TF-Agents environment.

Most tests play Gymnasium's CartPole-v1 next to gym 0.23's, loaded by TF-Agents'
``suite_gym`` or by the course's ``envs.load_env``. The two CartPoles share their physics,
their constants and their seeding (NumPy's PCG64 seeded the same way), so seeded with the
same seed and given the same actions they must produce the same observations, bit for bit.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium
import numpy as np
import pytest
from tf_agents.drivers import dynamic_episode_driver, py_driver
from tf_agents.environments import suite_gym, tf_py_environment
from tf_agents.environments import utils as env_utils
from tf_agents.metrics import tf_metrics
from tf_agents.policies import random_py_policy, random_tf_policy
from tf_agents.trajectories import time_step as ts
from tf_agents.utils import common

from utils import envs
from utils.envs import gymnasium_env

FIRST, MID, LAST = (int(t) for t in (ts.StepType.FIRST, ts.StepType.MID, ts.StepType.LAST))
SEED = 7


def play(env, actions):
    """The time steps of ``env.reset()`` then ``env.step(a)`` for each of ``actions``."""
    steps = [env.reset()]
    steps += [env.step(np.int64(a)) for a in actions]
    return steps


def balance(observation) -> int:
    """Push the cart towards where the pole leans: keeps CartPole up for its 500 steps."""
    return int(observation[2] + 0.5 * observation[3] > 0)


def play_balanced(env, num_steps):
    """``num_steps`` steps of :func:`balance` after a reset."""
    steps = [env.reset()]
    for _ in range(num_steps):
        steps.append(env.step(np.int64(balance(steps[-1].observation))))
    return steps


def assert_same_steps(ours, theirs, *, discounts=True):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert int(a.step_type) == int(b.step_type), i
        np.testing.assert_array_equal(a.observation, b.observation, err_msg=f"step {i}")
        assert a.observation.dtype == b.observation.dtype
        assert float(a.reward) == float(b.reward), i
        if discounts:
            assert float(a.discount) == float(b.discount), i


def gym_cartpole(loader, seed=SEED, **kwargs):
    env = loader("CartPole-v1", **kwargs)
    env.seed(seed)
    return env


# A fixed action sequence: always left ends an episode in about 10 steps (a termination),
# after which the next step starts a new episode; 60 steps play several episodes.
ALWAYS_LEFT = [0] * 60
MIXED = [0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1] * 8


# --- specs ------------------------------------------------------------------------------------


def test_cartpole_specs_equal_suite_gym():
    ours, theirs = gymnasium_env.load("CartPole-v1"), suite_gym.load("CartPole-v1")
    # Gymnasium writes CartPole's unbounded velocities as +-inf, gym 0.23 as float32's
    # largest value; the adapter turns infinite bounds into the dtype's largest values
    # (TF-Agents' own default for an unbounded BoundedArraySpec), so the specs are equal.
    assert np.isinf(ours.gym.observation_space.high).any()
    assert ours.observation_spec() == theirs.observation_spec()
    assert ours.action_spec() == theirs.action_spec()
    assert ours.time_step_spec() == theirs.time_step_spec()
    assert ours.reward_spec() == theirs.reward_spec()
    assert ours.discount_spec() == theirs.discount_spec()
    action = ours.action_spec()
    assert action.dtype == np.int64 and (action.minimum, action.maximum) == (0, 1)


def test_box_keeps_its_dtype_and_finite_bounds():
    box = gymnasium.spaces.Box(np.array([0.0, -1.0]), np.array([1.0, 2.0]), dtype=np.float64)
    spec = gymnasium_env.spec_from_space(box, "observation")
    assert spec.dtype == np.float64 and spec.shape == (2,)
    np.testing.assert_array_equal(spec.minimum, [0.0, -1.0])
    np.testing.assert_array_equal(spec.maximum, [1.0, 2.0])
    same = gymnasium.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    spec = gymnasium_env.spec_from_space(same, "observation")
    assert spec.minimum == np.finfo(np.float32).min and spec.maximum == np.finfo(np.float32).max
    image = gymnasium.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    spec = gymnasium_env.spec_from_space(image, "observation")
    assert spec.dtype == np.uint8 and (spec.minimum, spec.maximum) == (0, 255)


def test_discrete_with_a_start():
    spec = gymnasium_env.spec_from_space(gymnasium.spaces.Discrete(3, start=-1), "action")
    assert spec.shape == () and spec.dtype == np.int64
    assert (spec.minimum, spec.maximum) == (-1, 1)


def test_multi_discrete_and_multi_binary():
    nvec = gymnasium.spaces.MultiDiscrete([3, 5], start=[1, -2])
    spec = gymnasium_env.spec_from_space(nvec, "action")
    assert spec.shape == (2,) and spec.dtype == nvec.dtype
    np.testing.assert_array_equal(spec.minimum, [1, -2])
    np.testing.assert_array_equal(spec.maximum, [3, 2])
    binary = gymnasium_env.spec_from_space(gymnasium.spaces.MultiBinary(4), "observation")
    assert binary.shape == (4,) and binary.dtype == np.int8
    assert (binary.minimum, binary.maximum) == (0, 1)


@pytest.mark.parametrize(
    "space, hint",
    [
        (gymnasium.spaces.Dict({"a": gymnasium.spaces.Discrete(2)}), "FlattenObservation"),
        (gymnasium.spaces.Tuple((gymnasium.spaces.Discrete(2),) * 2), "FlattenObservation"),
        (gymnasium.spaces.Text(5), "ObservationWrapper"),
        (gymnasium.spaces.Sequence(gymnasium.spaces.Discrete(2)), "ObservationWrapper"),
    ],
    ids=["Dict", "Tuple", "Text", "Sequence"],
)
def test_an_unsupported_observation_space_gets_one_line(space, hint):
    env = ToyEnv(observation_space=space)
    with pytest.raises(ValueError) as caught:
        gymnasium_env.load(env)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"The observation space {type(space).__name__}(")
    assert "Box, Discrete, MultiDiscrete or MultiBinary" in message and hint in message


def test_an_unsupported_action_space_gets_one_line():
    space = gymnasium.spaces.Dict(
        {"move": gymnasium.spaces.Discrete(4), "force": gymnasium.spaces.Box(-1, 1, (2,))}
    )
    with pytest.raises(ValueError) as caught:
        gymnasium_env.load(ToyEnv(action_space=space))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("The action space Dict(")
    assert "ActionWrapper" in message


# --- stepping, against gym 0.23's CartPole ----------------------------------------------------


@pytest.mark.parametrize("actions", [ALWAYS_LEFT, MIXED], ids=["always_left", "mixed"])
@pytest.mark.parametrize("loader", [suite_gym.load, envs.load_env], ids=["suite_gym", "load_env"])
def test_same_time_steps_as_gym_cartpole(actions, loader):
    # Before CartPole's step limit, suite_gym and load_env agree with each other too.
    ours = play(gymnasium_env.load("CartPole-v1", seed=SEED), actions)
    theirs = play(gym_cartpole(loader), actions)
    assert_same_steps(ours, theirs)
    types = [int(s.step_type) for s in ours]
    assert types.count(LAST) >= 3  # several episodes, each ended and restarted


def test_a_termination_has_discount_zero_and_the_next_step_starts_over():
    env = gymnasium_env.load("CartPole-v1", seed=SEED)
    steps = play(env, ALWAYS_LEFT)
    last = next(i for i, s in enumerate(steps) if s.is_last())
    assert all(int(s.step_type) == MID and float(s.discount) == 1.0 for s in steps[1:last])
    assert float(steps[last].discount) == 0.0 and float(steps[last].reward) == 1.0
    # Auto-reset: the step after LAST ignores its action and starts a new episode.
    after = steps[last + 1]
    assert int(after.step_type) == FIRST and float(after.reward) == 0.0
    assert float(after.discount) == 1.0
    assert not np.array_equal(after.observation, steps[0].observation)  # the stream went on


def test_rewards_and_discounts_are_float32():
    for step in play(gymnasium_env.load("CartPole-v1", seed=SEED), MIXED):
        assert step.reward.dtype == np.float32 and step.discount.dtype == np.float32
        assert step.observation.dtype == np.float32


def test_a_short_step_limit_truncates_with_discount_one_like_load_env():
    limit = 10
    ours = play_balanced(gymnasium_env.load("CartPole-v1", seed=SEED, max_episode_steps=limit), 25)
    theirs = play_balanced(gym_cartpole(envs.load_env, max_episode_steps=limit), 25)
    assert_same_steps(ours, theirs)
    types = [int(s.step_type) for s in ours]
    assert types[limit] == LAST and float(ours[limit].discount) == 1.0
    assert types[limit + 1] == FIRST and types[2 * limit + 1] == LAST


def test_the_registered_limit_truncates_like_load_env_not_suite_gym():
    steps = 501  # the 500-step episode and the step that starts the next one
    ours = play_balanced(gymnasium_env.load("CartPole-v1", seed=SEED), steps)
    truncating = play_balanced(gym_cartpole(envs.load_env), steps)
    assert_same_steps(ours, truncating)
    assert ours[500].is_last() and float(ours[500].discount) == 1.0
    assert all(not s.is_last() for s in ours[:500]) and int(ours[501].step_type) == FIRST
    # suite_gym keeps gym 0.23's TimeLimit, which reports the limit as `done`: TF-Agents
    # turns that into a termination, discount 0. Everything else is the same.
    terminating = play_balanced(gym_cartpole(suite_gym.load), steps)
    assert_same_steps(ours[:500], terminating[:500])
    assert terminating[500].is_last() and float(terminating[500].discount) == 0.0
    np.testing.assert_array_equal(ours[500].observation, terminating[500].observation)


# --- seeding ------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_episodes():
    first = play(gymnasium_env.load("CartPole-v1", seed=SEED), MIXED)
    again = play(gymnasium_env.load("CartPole-v1", seed=SEED), MIXED)
    other = play(gymnasium_env.load("CartPole-v1", seed=SEED + 1), MIXED)
    assert_same_steps(first, again)
    assert not np.array_equal(first[0].observation, other[0].observation)


def test_later_resets_continue_the_stream_and_seed_restarts_it():
    env = gymnasium_env.load("CartPole-v1", seed=SEED)
    starts = [env.reset().observation for _ in range(3)]
    assert not np.array_equal(starts[0], starts[1])
    assert not np.array_equal(starts[1], starts[2])
    assert env.seed(SEED) == SEED
    np.testing.assert_array_equal(env.reset().observation, starts[0])
    np.testing.assert_array_equal(env.reset().observation, starts[1])


def test_the_seed_also_seeds_the_action_space():
    def samples(seed):
        space = gymnasium_env.load("CartPole-v1", seed=seed).gym.action_space
        return [int(space.sample()) for _ in range(32)]

    assert samples(SEED) == samples(SEED)
    assert samples(SEED) != samples(SEED + 1)


# --- a small environment of our own -------------------------------------------------------------


class ToyEnv(gymnasium.Env):
    """Actions -1, 0, 1 move a float64 position; reaching 3 terminates; records close()."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, observation_space=None, action_space=None, render_mode=None):
        self.observation_space = (
            observation_space
            if observation_space is not None
            else gymnasium.spaces.Box(-10.0, 10.0, (1,), dtype=np.float64)
        )
        self.action_space = action_space or gymnasium.spaces.Discrete(3, start=-1)
        self.render_mode = render_mode
        self.position, self.closed, self.actions = 0.0, False, []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0.0
        return np.array([self.position]), {"reset": True}

    def step(self, action):
        assert isinstance(action, int), type(action)  # the adapter passes plain ints
        self.actions.append(action)
        self.position += action
        terminated = self.position >= 3
        return np.array([self.position]), 1.0, terminated, False, {"position": self.position}

    def render(self):
        return np.zeros((2, 3, 3), dtype=np.uint8)

    def close(self):
        self.closed = True


def test_discrete_actions_with_a_start_reach_the_environment_as_ints():
    toy = ToyEnv()
    env = gymnasium_env.load(toy, max_episode_steps=20)
    assert (env.action_spec().minimum, env.action_spec().maximum) == (-1, 1)
    assert env.observation_spec().dtype == np.float64  # the Box's own dtype is kept
    steps = play(env, [1, -1, 1, 1, 1])
    assert toy.actions == [1, -1, 1, 1, 1]
    assert steps[-1].is_last() and float(steps[-1].discount) == 0.0
    assert env.get_info() == {"position": 3.0}


def test_a_given_environment_gets_the_step_limit_as_a_truncation():
    env = gymnasium_env.load(ToyEnv(), max_episode_steps=4)
    steps = play(env, [0, 0, 0, 0, 1])
    assert [int(s.step_type) for s in steps] == [FIRST, MID, MID, MID, LAST, FIRST]
    assert float(steps[4].discount) == 1.0


def test_validate_py_environment_with_random_actions():
    env_utils.validate_py_environment(gymnasium_env.load("CartPole-v1", seed=SEED), episodes=3)
    env_utils.validate_py_environment(gymnasium_env.load(ToyEnv(), max_episode_steps=30), 3)


def test_a_random_policy_through_a_py_driver():
    env = gymnasium_env.load("CartPole-v1", seed=SEED)
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=SEED)
    trajectories = []
    driver = py_driver.PyDriver(env, policy, [trajectories.append], max_episodes=3)
    driver.run(env.reset())
    assert sum(t.is_last() for t in trajectories) == 3


def test_inside_a_tf_py_environment():
    py_env = gymnasium_env.load("CartPole-v1", seed=SEED)
    tf_env = tf_py_environment.TFPyEnvironment(py_env)
    assert tf_env.batch_size == 1
    reference = tf_py_environment.TFPyEnvironment(suite_gym.load("CartPole-v1"))
    assert tf_env.time_step_spec() == reference.time_step_spec()
    assert tf_env.action_spec() == reference.action_spec()
    time_step = tf_env.reset()
    assert time_step.observation.shape == (1, 4)
    time_step = tf_env.step(np.array([1], dtype=np.int64))
    assert int(time_step.step_type[0]) == MID and time_step.reward.dtype.name == "float32"
    frame = tf_env.render()
    assert frame.shape[0] == 1 and frame.shape[-1] == 3


def test_a_compiled_tf_driver_plays_whole_episodes():
    tf_env = tf_py_environment.TFPyEnvironment(gymnasium_env.load("CartPole-v1", seed=SEED))
    policy = random_tf_policy.RandomTFPolicy(tf_env.time_step_spec(), tf_env.action_spec())
    episodes, steps = tf_metrics.NumberOfEpisodes(), tf_metrics.EnvironmentSteps()
    driver = dynamic_episode_driver.DynamicEpisodeDriver(
        tf_env, policy, [episodes, steps], num_episodes=3
    )
    common.function(driver.run)()  # traced into a graph, like the TF-Agents tutorials do
    assert int(episodes.result()) == 3 and int(steps.result()) >= 3


# --- rendering and closing ----------------------------------------------------------------------


def test_render_returns_an_rgb_frame():
    env = gymnasium_env.load("CartPole-v1", seed=SEED)
    env.reset()
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    assert frame.shape[:2] == (400, 600)
    assert envs.render_frame(env).shape == frame.shape  # the course's helper works with it
    env.close()


def test_render_names_the_mode_it_was_made_with():
    env = gymnasium_env.load("CartPole-v1", render_mode=None)
    env.reset()
    with pytest.raises(ValueError, match=r"render_mode=None.*load\(\.\.\., render_mode="):
        env.render()


def test_close_closes_the_gymnasium_environment():
    toy = ToyEnv()
    env = gymnasium_env.load(toy)
    env.reset()
    env.close()
    assert toy.closed


# --- arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_a_bad_step_limit_is_rejected(bad):
    with pytest.raises(ValueError, match="max_episode_steps must be a whole number"):
        gymnasium_env.load("CartPole-v1", max_episode_steps=bad)


def test_make_arguments_with_a_given_environment_are_rejected():
    with pytest.raises(ValueError, match=r"are for gymnasium\.make"):
        gymnasium_env.load(ToyEnv(), sutton_barto_reward=True)


def test_make_arguments_reach_gymnasium_make():
    env = gymnasium_env.load("CartPole-v1", seed=SEED, sutton_barto_reward=True)
    steps = play(env, [1, 1])
    assert float(steps[1].reward) == 0.0  # Sutton and Barto's reward: 0 per step, -1 at the end


def test_not_an_environment_is_rejected():
    with pytest.raises(ValueError, match="Gymnasium id such as 'CartPole-v1'"):
        gymnasium_env.load(42)


def test_a_misspelt_id_gets_gymnasiums_suggestion():
    with pytest.raises(gymnasium.error.Error, match="Did you mean: `CartPole`"):
        gymnasium_env.load("CartPol-v1")
