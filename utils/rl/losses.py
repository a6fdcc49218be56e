"""The loss of each TD error, shared by the DQNs: Huber or squared.

Taught in notebook 07 (its cell is the source of the block below); notebook 09's in-graph DQN
uses the same function.
"""

from __future__ import annotations

from utils.infra.runtime import LazyModule

tf = LazyModule("tensorflow")  # imported at first use, after the notebook's setup cell

# BEGIN generated from notebooks/07_dqn_from_scratch.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


LOSSES = ("huber", "squared")


def elementwise_loss(errors, kind):
    """Huber (quadratic within ±1, linear beyond) or squared loss of TD errors."""
    if kind == "squared":
        return tf.square(errors)
    if kind == "huber":
        absolute = tf.abs(errors)
        quadratic = tf.minimum(absolute, 1.0)
        return 0.5 * tf.square(quadratic) + (absolute - quadratic)
    raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}.")


# END generated from notebooks/07_dqn_from_scratch.ipynb
