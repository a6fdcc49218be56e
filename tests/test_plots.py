"""Tests for utils.infra.plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from utils.infra import plots


def test_moving_average_is_trailing_and_same_length():
    got = plots.moving_average([0, 2, 4, 6], window=2)
    np.testing.assert_allclose(got, [0, 1, 3, 5])


def test_moving_average_window_one_is_identity():
    np.testing.assert_allclose(plots.moving_average([3, 1, 2], 1), [3, 1, 2])


def test_moving_average_rejects_bad_window():
    with pytest.raises(ValueError, match="window"):
        plots.moving_average([1, 2], 0)


def test_learning_curve_saves_a_png(tmp_path):
    path = tmp_path / "curve.png"
    fig = plots.plot_learning_curve(
        [0, 1, 2], [10, 20, 30], window=2, target=25, losses=([0, 1, 2], [1, 2, 3]), path=path
    )
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert len(fig.axes) == 2


def test_learning_curve_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        plots.plot_learning_curve([0, 1], [1])


def test_learning_curve_rejects_empty():
    with pytest.raises(ValueError, match="Nothing to plot"):
        plots.plot_learning_curve([], [])


def test_loop_diagram_draws():
    fig = plots.draw_agent_environment_loop()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("Agent" in t for t in texts) and any("reward" in t for t in texts)


def test_learning_curve_marks_incomplete_evaluations():
    fig = plots.plot_learning_curve([0, 1, 2], [10, 5, 30], complete=[True, False, True])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "stopped early (finished episodes only)" in labels
    hollow = [line for line in fig.axes[0].lines if line.get_markerfacecolor() == "none"]
    assert len(hollow) == 1 and list(hollow[0].get_xdata()) == [1.0]


def test_learning_curve_rejects_a_wrong_complete_mask():
    with pytest.raises(ValueError, match="complete has"):
        plots.plot_learning_curve([0, 1], [1, 2], complete=[True])


def test_points_can_be_named():
    figure = plots.plot_learning_curve([1, 2, 3], [10, 20, 30], label="training episode")
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels[0] == "training episode"


def test_values_and_epsilon_plot_saves_what_it_shows(tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "values.png"
    figure = plots.plot_values_and_epsilon(
        [256, 512], [1.0, 3.0], [0.5, 0.04], gamma=0.99, path=path
    )
    top, bottom = figure.axes
    assert path.exists() and bottom.get_ylabel() == "ε"
    assert top.lines[1].get_ydata()[0] == pytest.approx(100.0)  # 1 / (1 - gamma)
    plt.close(figure)


def test_lower_panel_can_show_epsilon_on_a_linear_scale():
    import matplotlib.pyplot as plt

    figure = plots.plot_learning_curve(
        [1, 2, 3],
        [1.0, 2.0, 3.0],
        losses=([1, 2, 3], [1.0, 0.5, 0.1]),
        lower_label="ε",
        lower_log=False,
    )
    assert figure.axes[1].get_yscale() == "linear" and figure.axes[1].get_ylabel() == "ε"
    plt.close(figure)


def test_learning_curve_averages_complete_checks_only_and_picks_the_loss_scale():
    steps = list(range(12))
    returns = [10.0] * 12
    complete = [True] * 10 + [False] * 2
    figure = plots.plot_learning_curve(
        steps, returns, window=5, complete=complete, losses=(steps, [0.4 + 0.01 * s for s in steps])
    )
    top, bottom = figure.axes
    labels = [line.get_label() for line in top.get_lines()]
    assert "moving average (5)" in labels
    average = next(line for line in top.get_lines() if line.get_label() == "moving average (5)")
    assert len(average.get_xdata()) == 10  # the two hollow checks are left out
    assert bottom.get_yscale() == "linear" and "log" not in bottom.get_ylabel()
    few = plots.plot_learning_curve(
        steps[:6], returns[:6], window=5, losses=(steps, [1e-3, 1e2] * 6)
    )
    assert "moving average (5)" not in [line.get_label() for line in few.axes[0].get_lines()]
    assert few.axes[1].get_yscale() == "log" and "(log scale)" in few.axes[1].get_ylabel()
    matplotlib.pyplot.close("all")


def test_learning_curve_marks_each_resume_in_both_panels():
    fig = plots.plot_learning_curve(
        [0, 1, 2, 3], [10, 20, 30, 40], losses=([0, 1, 2, 3], [1, 2, 3, 4]), resumes=[1.5, 2.5]
    )
    for axes in fig.axes:
        vertical = [line for line in axes.get_lines() if list(line.get_xdata()) in ([1.5] * 2,)]
        assert len(vertical) == 1
        assert any(list(line.get_xdata()) == [2.5, 2.5] for line in axes.get_lines())
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels.count("resumed from a checkpoint") == 1
