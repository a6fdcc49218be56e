"""The settings benchmarks/dqn_cartpole.py compares, and the tutorial-style quick checks."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import dqn_arms
import dqn_cartpole
from dqn_tiny import TINY

from utils.agents import dqn


def test_the_benchmark_names_every_arm():
    assert set(dqn_cartpole.SETTINGS) == set(dqn_arms.ARMS)
    assert all(settings.name == name for name, (settings, _) in dqn_arms.ARMS.items())


def test_the_tutorial_arm_checks_as_the_tutorial_does():
    # compute_avg_return: one TF environment, agent.policy called eagerly, each episode played
    # to its end.
    assert dqn_arms.ARMS["tutorial"] == (dqn.TUTORIAL, "tutorial")
    assert dqn_arms.ARMS["course"] == (dqn.COURSE, "batched")


@pytest.mark.parametrize("name", ["tutorial-compiled-eval", "tutorial-batched-eval"])
def test_tutorial_variants_differ_from_the_tutorial_only_in_evaluation(name):
    variant, style = dqn_arms.ARMS[name]
    differing = {
        f.name
        for f in dataclasses.fields(dqn.DqnSettings)
        if getattr(dqn.TUTORIAL, f.name) != getattr(variant, f.name)
    }
    assert differing == {"name"}
    assert style != dqn_arms.ARMS["tutorial"][1]


# Everything below needs the TF-Agents stack.
tf_agents = pytest.importorskip("tf_agents")


@pytest.fixture(scope="module")
def env():
    return dqn.make_env(dqn.COURSE, seed=0)


def test_an_unknown_style_is_rejected(env):
    agent = dqn.build_agent(TINY, env)
    with pytest.raises(ValueError, match="style must be one of"):
        dqn_arms.styled_check(agent, TINY, 2, style="parallel")
    with pytest.raises(ValueError, match="style must be one of"):
        dqn_arms.quick_check("parallel")


@pytest.mark.parametrize("style", dqn_arms.STYLES)
def test_quick_check_plays_the_way_the_arm_says(monkeypatch, style):
    """tutorial: a TF environment and the TF policy; sequential: a Python environment and a
    compiled policy; batched: one Gym environment per episode and early stopping."""
    pytest.importorskip("reverb")
    from tf_agents.environments import py_environment, tf_environment
    from tf_agents.policies import py_policy

    from utils.rl import evaluation as evaluation_module

    calls = []
    real_evaluate, real_evaluate_gym = evaluation_module.evaluate, evaluation_module.evaluate_gym

    def spy(env, policy, num_episodes, **options):
        calls.append(("evaluate", env, policy, num_episodes, sorted(options)))
        return real_evaluate(env, policy, num_episodes, **options)

    def spy_gym(envs, actions, num_episodes, **options):
        calls.append(("evaluate_gym", envs, actions, num_episodes, options))
        return real_evaluate_gym(envs, actions, num_episodes, **options)

    monkeypatch.setattr(evaluation_module, "evaluate", spy)
    monkeypatch.setattr(evaluation_module, "evaluate_gym", spy_gym)
    agent, _ = dqn.train_from_scratch(
        TINY, seed=0, progress=False, quick_check=dqn_arms.quick_check(style)
    )
    quick = [call for call in calls if call[3] == TINY.eval_episodes]
    assert len(quick) == 2  # iterations 3 and 6
    kind, env, policy, _, options = quick[0]
    if style == "tutorial":
        assert kind == "evaluate" and options == []
        assert isinstance(env, tf_environment.TFEnvironment) and env.batch_size == 1
        assert policy is agent.policy  # called as it is: eagerly
    elif style == "sequential":
        assert kind == "evaluate" and options == []
        assert isinstance(env, py_environment.PyEnvironment) and not env.batched
        assert isinstance(policy, py_policy.PyPolicy)
    else:
        assert kind == "evaluate_gym" and len(env) == TINY.eval_episodes
        assert (options["target"], options["max_episode_return"]) == (475.0, 500.0)
        # The first check seeds the first resets; the next one plays on, fresh episodes.
        assert [call[4]["seed"] for call in quick] == [1, None]


def test_every_check_style_plays_the_same_first_episode(env):
    """Same seed, same greedy policy: the Gym, Python and TF environments agree."""
    agent = dqn.build_agent(TINY.replace(hidden_layers=(64, 64)), env)
    by_seed = {}
    for seed in range(3, 9):
        played = [
            dqn_arms.styled_check(agent, TINY, 1, style=style, seed=seed)().returns[0]
            for style in dqn_arms.STYLES
        ]
        assert played == [played[0]] * len(played), (seed, played)
        by_seed[seed] = played[0]
    assert len(set(by_seed.values())) > 1  # the seeds do start different episodes
