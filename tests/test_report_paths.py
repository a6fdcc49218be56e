"""Tests for utils.infra.report and utils.infra.paths."""

import json
import re
import time

import pytest

from utils.infra import paths, report


def test_headline_prints_and_records(tmp_path, monkeypatch, capsys):
    target = tmp_path / "r.json"
    monkeypatch.setenv(report.RESULTS_ENV, str(target))
    report.headline("Baseline", 21.4)
    report.headline("Baseline", 22.0)  # same label: replaced, not duplicated
    report.headline("Other", "x")
    assert "Baseline: 21.4" in capsys.readouterr().out
    assert json.loads(target.read_text()) == [
        {"label": "Baseline", "value": "22.0"},
        {"label": "Other", "value": "x"},
    ]


def test_headline_without_make_course_only_prints(monkeypatch, capsys):
    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    report.headline("A", 1)
    assert capsys.readouterr().out == "A: 1\n"


def test_build_dir_is_created_under_the_override(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "b"))
    got = paths.build_dir("videos", "02")
    assert got == tmp_path / "b" / "videos" / "02" and got.is_dir()


def test_build_dir_defaults_to_the_repository(monkeypatch):
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    assert paths.build_dir() == paths.REPO_ROOT / "build"
    # The repository's root, wherever paths.py sits inside utils/.
    assert (paths.REPO_ROOT / "utils" / "bootstrap.py").exists()
    assert paths.NOTEBOOKS_DIR.is_dir() and (paths.REPO_ROOT / "README.md").exists()


def test_show_source_displays_a_helper():
    code = report.show_source(paths.build_dir)
    assert "def build_dir" in code.data and "# from utils.infra.paths" in code.data


def test_show_source_rejects_builtins():
    import pytest

    with pytest.raises(TypeError, match="No source"):
        report.show_source(len)


def test_training_outcome_line():
    from utils.infra.report import training_outcome

    timings = {"collect": 1.23, "train": 2.0}
    solved = training_outcome(
        True,
        solved_return=499.5,
        env_steps_to_solve=2536,
        seconds_to_solve=11.06,
        env_steps=2536,
        timings=timings,
    )
    assert solved == (
        "solved (average return 499.5 over 100 episodes) after 2,536 environment steps "
        "in 11.1 s (collect 1.2 s, train 2.0 s)"
    )
    failed = training_outcome(
        False,
        solved_return=None,
        env_steps_to_solve=None,
        seconds_to_solve=None,
        env_steps=500,
        timings=timings,
    )
    assert failed.startswith("not solved after 500 environment steps")


def test_benchmark_records_are_printed_without_single_runs(capsys):
    text = report.benchmark_record("dqn_cartpole_course_30_seeds_2026-11-22")
    assert "2026-11-22" in text and "course: solved 30/30" in text
    assert "seed  0: solved" not in text
    assert capsys.readouterr().out.strip() == text
    every = report.benchmark_record("dqn_cartpole_course_30_seeds_2026-11-22", runs=True)
    assert every.count("seed ") >= 30


def test_a_record_prints_chosen_settings_under_todays_names(capsys):
    text = report.benchmark_record("dqn_cartpole_soft_update_2026-12-02", settings=["course"])
    assert "course: solved 20/20" in text and "course-hard-sync: solved" not in text
    assert text.splitlines()[1].startswith("$ python benchmarks/dqn_cartpole.py")
    text = report.benchmark_record(
        "dqn_cartpole_side_by_side_2026-11-22", runs=True, rename={"course": "hard-sync"}
    )
    assert "hard-sync: solved 10/10" in text and "hard-sync seed  6:" in text
    assert "median tutorial time / median hard-sync time" in text
    assert "--settings course tutorial" in text  # the command stays as it was typed
    body = text.splitlines()[4:-1]  # after the command (two lines) and the date line
    assert not any(re.search(r"(?<![\w-])course(?![\w-])", line) for line in body)
    assert text.endswith("(settings printed under today's names: course as hard-sync)")
    assert "tutorial-compiled-eval: solved" in text  # names that only contain it stay


def test_an_unknown_benchmark_record_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match=r"known: .*dqn_cartpole_side_by_side"):
        report.benchmark_record("nope")


def test_progress_bar_outside_a_notebook_is_tqdms_own():
    from tqdm import tqdm

    bar = report.progress_bar(range(3), desc="test", disable=True)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1, 2]
    assert not report.in_notebook_kernel()


def test_live_line_shows_only_the_latest_line(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: Handle())
    line = report._LiveLine()
    line.write("\rtrain:  10%|#  | 1/10")
    line.write("\rtrain:  20%|## | 2/10\n")
    line.write("")
    assert shown == ["train:  10%|#  | 1/10", "train:  20%|## | 2/10"]


def test_record_summaries_read_each_settings_figures():
    side = report.record_summaries("dqn_cartpole_side_by_side_2026-11-22")
    assert set(side) == {"course", "tutorial", "tutorial-compiled-eval"}
    assert side["course"]["median env steps to solve"] == 2536
    assert side["tutorial"]["largest loss seen"] == 6.57e6
    lines = report.record_lines("dqn_cartpole_side_by_side_2026-11-22")
    runs = [line for line in lines if report.is_run_line(line)]
    assert len(runs) == 20 and all("env steps" in line for line in runs)


def test_record_summaries_read_blocks_of_medians_too():
    figures = report.record_summaries("distributed_2026-12-03")
    assert figures["actors-only-2"]["actors"] == 2
    assert figures["actors-only-2"]["inserts per second"] == 1258.7
    assert figures["with-learner-4"]["train steps per second"] == 91.1
    assert figures["single-process"]["median env steps to solve"] == 2280


def test_notebook_time_counts_from_the_setup_cell(monkeypatch, capsys):
    from utils import bootstrap

    monkeypatch.setattr(bootstrap, "STARTED", None)
    assert report.notebook_time() is None
    assert "setup cell has not run" in capsys.readouterr().out
    monkeypatch.setattr(bootstrap, "STARTED", time.monotonic() - 12.4)
    assert 12 <= report.notebook_time() < 60
    assert "ran for 12 s" in capsys.readouterr().out


def test_record_runs_reads_every_single_run():
    runs = report.record_runs("dqn_tail_2026-12-02")
    assert len(runs) == 80 and {r["setting"] for r in runs} >= {"course", "double"}
    course = {r["seed"]: r for r in runs if r["setting"] == "course"}
    assert sorted(course) == list(range(20)) and all(r["solved"] for r in course.values())
    assert max(r["env_steps"] for r in course.values()) == 13_032
    assert course[0]["seconds"] == 5.0  # "2,536 env steps |    5.0 s |"
    tutorial = report.record_runs("dqn_cartpole_side_by_side_2026-11-22")
    assert max(r["seconds"] for r in tutorial) == 377.1  # "... |  377.1 s to solve |"


def test_update_bar_shows_numbers_and_a_closed_bar_reads_complete():
    bar = report.progress_bar(range(10), desc="t")  # on stderr outside a notebook
    for i in bar:
        if i == 3:
            break
    report.update_bar(bar, {"eval": "solved"}, close=True)
    assert bar.total == bar.n == 4
