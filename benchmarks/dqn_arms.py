"""The settings ``dqn_cartpole.py`` compares, with the quick check each one plays.

Only the benchmark uses this: the course trains with ``utils.agents.dqn``'s own check (one Gym
environment per episode, all stepped together, stopped once the target is out of reach). The
official tutorial checks differently, and its arms here keep that check so that the
comparison is fair:

* ``"tutorial"``: the tutorial's ``compute_avg_return``: one TF environment
  (``TFPyEnvironment``), ``agent.policy`` called eagerly, one episode after another, each
  played to the end;
* ``"sequential"``: the same episodes on a Python environment with the policy compiled
  (``tf.function``);
* ``"batched"``: the course's check.

The same seed starts the same first episode in every style (a test checks it).
"""

from __future__ import annotations

from utils.agents import dqn
from utils.rl import evaluation

STYLES = ("tutorial", "sequential", "batched")

# name -> (settings, style of the quick check). The tutorial's hyperparameters and schedule
# with a cheaper quick check separate what evaluation costs from what the other settings gain.
ARMS = {
    "tutorial": (dqn.TUTORIAL, "tutorial"),
    "tutorial-compiled-eval": (dqn.TUTORIAL.replace(name="tutorial-compiled-eval"), "sequential"),
    "tutorial-batched-eval": (dqn.TUTORIAL.replace(name="tutorial-batched-eval"), "batched"),
    "course": (dqn.COURSE, "batched"),
    # The course's settings before 2026-12-02: the target network copied every 128 train steps.
    "course-hard-sync": (
        dqn.COURSE.replace(
            name="course-hard-sync", target_update_period=128, target_update_tau=1.0
        ),
        "batched",
    ),
}


def styled_check(agent, settings, num_episodes: int, *, style: str, seed: int = 0):
    """A function of no arguments that plays ``num_episodes`` greedy episodes in ``style``.

    The environment is built and seeded here, once, so every call plays fresh episodes.
    """
    from tf_agents.environments import suite_gym, tf_py_environment
    from tf_agents.policies import py_tf_eager_policy

    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}.")
    if style == "batched":
        return dqn.greedy_check(agent, settings, num_episodes, seed=seed)
    env = suite_gym.load(settings.env_name)  # the tutorial's evaluation environment
    env.seed(seed)
    if style == "sequential":
        policy = py_tf_eager_policy.PyTFEagerPolicy(agent.policy, use_tf_function=True)
        return lambda: evaluation.evaluate(env, policy, num_episodes)
    tf_env = tf_py_environment.TFPyEnvironment(env)  # style == "tutorial"
    return lambda: evaluation.evaluate(tf_env, agent.policy, num_episodes)


def quick_check(style: str):
    """The ``quick_check`` argument of ``dqn.train`` that plays the check in ``style``."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}.")

    def make(agent, settings, num_episodes, seed=0):
        return styled_check(agent, settings, num_episodes, style=style, seed=seed)

    return make
