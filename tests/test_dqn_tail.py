"""benchmarks/dqn_tail.py: its settings are the course's or the hard sync's plus a change or two,
and its summary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import dqn_tail

from utils.agents import dqn_scratch


def test_every_arm_is_the_course_with_a_few_valid_changes():
    assert dqn_tail.ARMS["course"] == {}
    assert set(dqn_tail.FIRST_ARMS) <= set(dqn_tail.ARMS)
    hard = dqn_tail.HARD_SYNC
    assert dqn_tail.ARMS["hard-sync"] == hard
    assert dqn_scratch.COURSE.replace(**hard).target_update_tau == 1.0
    for name, changes in dqn_tail.ARMS.items():
        # the arms of the earlier records change the hard sync's settings (pairs: two changes)
        own = {k: v for k, v in changes.items() if hard.get(k) != v or k not in hard}
        assert 1 <= len(own) <= 2 or name in ("course", "hard-sync"), name
        dqn_scratch.COURSE.replace(**changes)  # real settings with valid values


def test_summary_counts_slow_runs_and_lost_policies(capsys):
    def run(seed, steps, best, lowest):
        return {
            "seed": seed,
            "solved": True,
            "env_steps": steps,
            "seconds": 1.0,
            "checks": 5,
            "best_before_last": best,
            "lowest_after_best": lowest,
        }

    runs = [run(0, 2_000, 30, 30), run(1, 12_000, 350, 20), run(2, 15_000, 120, 100)]
    dqn_tail.summarize("course", runs, slow=10_000)
    out = capsys.readouterr().out
    assert "runs over 10,000 env steps: 2 of 3 (seeds 1, 2)" in out
    assert "fell below half: 1" in out
    assert "largest env steps to solve:  15,000" in out


def test_bad_arguments_get_one_clear_line():
    with pytest.raises(SystemExit):
        dqn_tail.main(["--seeds", "0"])
