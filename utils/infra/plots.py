"""Learning curves with a moving average.

Taught in notebook 03.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start), same length as input."""
    if window < 1:
        raise ValueError(f"window must be >= 1; got {window}.")
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    start = np.maximum(idx - window, 0)
    return (sums[idx] - sums[start]) / (idx - start)


def plot_learning_curve(
    steps: Sequence[float],
    returns: Sequence[float],
    *,
    window: int = 5,
    target: float | None = None,
    complete: Sequence[bool] | None = None,
    losses: tuple[Sequence[float], Sequence[float]] | None = None,
    xlabel: str = "environment steps",
    title: str = "Learning curve",
    label: str = "evaluation",
    ylabel: str = "average return",
    lower_label: str = "TD loss",
    lower_log: bool | None = None,
    resumes: Sequence[float] = (),
    path: str | Path | None = None,
):
    """Plot returns (points), their moving average (line) and, optionally, the loss below.

    ``label`` names the points in the legend (e.g. "training episode"), ``ylabel`` the y-axis.
    ``complete`` marks evaluations that ran all their episodes; the others (stopped early,
    their mean covering only finished episodes, so it reads low) are drawn as hollow points
    and left out of the moving average, which is drawn only when at least ``2 * window``
    complete points exist (over fewer, it says little). The lower panel (``losses``: steps and
    values) is named by ``lower_label`` (e.g. "ε" for an exploration schedule); it is drawn on
    a log scale when ``lower_log`` is True, or, when None, when its values span more than a
    factor of ten. ``resumes``: the steps where training continued from a checkpoint (a
    ``History.resumes``), drawn as vertical lines through both panels.
    """
    import matplotlib.pyplot as plt

    if len(steps) != len(returns):
        raise ValueError(f"steps and returns differ in length ({len(steps)} vs {len(returns)}).")
    if len(returns) == 0:
        raise ValueError("Nothing to plot: no evaluations were recorded.")
    rows = 2 if losses is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 3.2 * rows), sharex=True, squeeze=False)
    ax = axes[0, 0]
    steps_arr, returns_arr = np.asarray(steps, dtype=float), np.asarray(returns, dtype=float)
    done = np.ones(len(returns_arr), bool) if complete is None else np.asarray(complete, bool)
    if done.shape != returns_arr.shape:
        raise ValueError(f"complete has {done.size} entries for {returns_arr.size} returns.")
    ax.plot(steps_arr[done], returns_arr[done], "o", color="tab:blue", alpha=0.5, label=label)
    if not done.all():
        ax.plot(
            steps_arr[~done],
            returns_arr[~done],
            "o",
            mfc="none",
            color="tab:blue",
            alpha=0.6,
            label="stopped early (finished episodes only)",
        )
    if done.sum() >= 2 * window:
        average = moving_average(returns_arr[done], window)
        ax.plot(
            steps_arr[done],
            average,
            "-",
            color="tab:orange",
            lw=2,
            zorder=3,
            label=f"moving average ({window})",
        )
    if target is not None:
        ax.axhline(target, color="green", ls="--", lw=1, label=f"target {target:g}")
    for i, step in enumerate(resumes):
        for panel in axes[:, 0]:
            label = "resumed from a checkpoint" if i == 0 and panel is ax else None
            panel.axvline(step, color="tab:purple", ls=":", lw=2, label=label)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best")  # wherever it hides the fewest points
    if losses is not None:
        loss_steps, loss_values = losses
        lax = axes[1, 0]
        lax.plot(loss_steps, loss_values, lw=1, color="tab:red")
        values = np.asarray(loss_values, dtype=float)
        if lower_log is None:
            positive = values[np.isfinite(values) & (values > 0)]
            lower_log = positive.size > 1 and positive.max() > 10 * positive.min()
        if lower_log:
            lax.set_yscale("log")
        elif np.nanmin(values) >= 0:
            lax.set_ylim(bottom=0)  # from zero, so that a small wiggle does not look like a fall
        lax.set_ylabel(f"{lower_label} (log scale)" if lower_log else lower_label)
    axes[-1, 0].set_xlabel(xlabel)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig


def plot_values_and_epsilon(
    steps: Sequence[float],
    start_values: Sequence[float],
    epsilons: Sequence[float],
    *,
    gamma: float,
    path: str | Path | None = None,
):
    """At each quick check: the network's value of fixed start states (top) and ε (bottom).

    The dashed line is 1 / (1 - gamma), the value of a policy that never fails. Taught in
    notebook 07; notebook 03 draws the same for TF-Agents' DQN.
    """
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    top.plot(steps, start_values, "o-", label="mean max Q of start states")
    top.axhline(1 / (1 - gamma), color="gray", linestyle="--", label="1 / (1 - γ)")
    top.set_ylabel("expected discounted return")
    top.legend(loc="center right")
    bottom.plot(steps, epsilons, "o-", color="tab:orange")
    bottom.set_ylabel("ε")
    bottom.set_xlabel("environment steps")
    figure.suptitle("At each quick check: the network's estimate of the start, and ε")
    figure.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    return figure


def draw_agent_environment_loop():
    """Draw the agent-environment loop: action out, observation and reward back (notebook 00)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4)
    ax.axis("off")
    boxes = {
        "Agent\n(policy π)": (0.5, "tab:blue"),
        "Environment\n(e.g. CartPole)": (6.5, "tab:green"),
    }
    for label, (x, color) in boxes.items():
        ax.add_patch(
            FancyBboxPatch(
                (x, 1.2), 3, 1.6, boxstyle="round,pad=0.1", fc=color, alpha=0.25, ec=color
            )
        )
        ax.text(x + 1.5, 2.0, label, ha="center", va="center", fontsize=12)
    arrows = [
        ((3.6, 2.6), (6.4, 2.6), "action  aₜ", 2.85),
        ((6.4, 1.8), (3.6, 1.8), "observation  sₜ₊₁", 2.05),
        ((6.4, 1.35), (3.6, 1.35), "reward  rₜ₊₁", 0.95),
    ]
    for start, end, text, y in arrows:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=18, lw=1.5))
        ax.text(5.0, y, text, ha="center", va="center", fontsize=10)
    ax.set_title("One step of the loop, repeated until the episode ends")
    fig.tight_layout()
    return fig


def draw_actor_learner(wire: dict[str, str], actors: int = 3):
    """Draw the distributed roles around a Reverb server, each arrow labelled (notebook 12).

    ``wire``: the labels of what crosses the network, keyed "transitions", "draws",
    "weights", "pulls" and "checks".
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(10, 5.2))
    ax.set_xlim(0, 14)
    ax.set_ylim(0, 7.4)
    ax.axis("off")

    def box(x, y, w, h, label, color, size=10):
        ax.add_patch(
            FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.1", fc=color, alpha=0.22, ec=color)
        )
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=size)

    def arrow(start, end, text, at, color="black"):
        ax.add_patch(
            FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=16, lw=1.4, color=color)
        )
        ax.text(*at, text, ha="center", va="center", fontsize=8.5, color=color)

    tops = [5.6 - 1.9 * i for i in range(actors)]
    for i, top in enumerate(tops):
        name = f"actor {i}" if i < actors - 1 else "actor K-1"
        box(0.2, top, 2.6, 1.2, f"{name}\nown environment, seed\nε-greedy policy", "tab:green", 9)
    ax.text(1.5, tops[-1] + 1.55, "⋮", ha="center", fontsize=14)
    ax.add_patch(
        FancyBboxPatch(
            (5.2, 1.0), 3.6, 5.6, boxstyle="round,pad=0.1", fc="none", ec="tab:purple", lw=1.5
        )
    )
    ax.text(7.0, 6.95, "Reverb server (host:port)", ha="center", fontsize=11, color="tab:purple")
    box(
        5.5,
        3.9,
        3.0,
        2.2,
        "table 'replay'\ntransitions\nuniform draws, FIFO\nrate limiter",
        "tab:purple",
    )
    box(5.5, 1.3, 3.0, 1.9, "table 'variables'\none item: weights\nand train step", "tab:orange")
    box(11.0, 3.9, 2.8, 2.2, "learner\ndraws, trains,\npublishes,\ncheckpoints", "tab:blue")
    box(11.0, 0.4, 2.8, 1.6, "evaluator\ngreedy episodes,\n'solved?'", "tab:red")
    for top in tops:
        arrow((2.9, top + 0.8), (5.4, 5.0), "", (0, 0), "tab:green")
        arrow((5.4, 2.0), (2.9, top + 0.3), "", (0, 0), "tab:orange")
    ax.text(4.1, 6.45, wire["transitions"], ha="center", fontsize=8.5, color="tab:green")
    ax.text(4.1, 0.75, wire["pulls"], ha="center", fontsize=8.5, color="tab:orange")
    arrow((8.6, 5.3), (10.9, 5.3), wire["draws"], (9.75, 5.75), "tab:purple")
    arrow((10.9, 4.2), (8.6, 2.6), wire["weights"], (10.4, 3.15), "tab:blue")
    arrow((8.6, 1.6), (10.9, 1.2), wire["checks"], (9.7, 0.95), "tab:orange")
    ax.set_title("Who writes, who reads, and what crosses the network")
    fig.tight_layout()
    return fig
