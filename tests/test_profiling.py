"""utils.infra.profiling: the time split of a DQN run and where one run saved over another."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from utils.infra import profiling


def run(env_steps, train_steps, seconds, fill, collect, train, evaluate):
    timings = {"fill": fill, "collect": collect, "train": train, "evaluate": evaluate}
    return SimpleNamespace(
        env_steps=env_steps, train_steps=train_steps, seconds=seconds, timings=timings
    )


def test_the_parts_add_up_to_the_loop_time_per_env_step():
    parts = profiling.time_per_env_step(run(1000, 500, 4.0, 0.5, 1.0, 1.5, 0.5))
    assert parts == pytest.approx(
        {"playing": 1.5, "training": 1.5, "checking": 0.5, "between phases": 0.5}
    )
    assert sum(parts.values()) == pytest.approx(4.0)  # ms per step: 4 s over 1000 steps


def test_the_savings_add_up_and_split_training_into_setting_and_cost():
    ours = run(1000, 250, 3.0, 0.5, 1.0, 1.0, 0.4)  # 0.25 train steps per step, 4 ms each
    theirs = run(1000, 1000, 9.0, 0.1, 2.0, 2.0, 0.2)  # 1 per step, 2 ms each
    saved, ratios = profiling.where_saved(ours, theirs)
    assert sum(saved.values()) == pytest.approx(9.0 - 3.0)  # ms per environment step
    assert ratios == pytest.approx({"train_steps_per_env_step": 4.0, "cost_per_train_step": 0.5})
    assert saved["fewer train steps per env step (a setting)"] == pytest.approx(1.5)
    assert saved["cost per train step"] == pytest.approx(-0.5)  # ours cost more per step
    assert saved["checking"] == pytest.approx(-0.2)
