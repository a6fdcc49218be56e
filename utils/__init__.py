"""Shared helpers for the course notebooks, scripts and benchmarks, in four layers.

=================  =====================================================================
``utils.infra``    infrastructure: runtime setup, paths, headline figures and timing,
                   plots, video, profiling, the command line built from settings
``utils.envs``     environments: Gymnasium and gym loading, rendering, the grid world,
                   CartPole in TensorFlow ops, recording wrappers
``utils.rl``       RL building blocks: evaluation, replay, the training scaffold that
                   every trainer shares (settings, history, the "solved" check),
                   checkpoints, and the distributed roles around a Reverb server
``utils.agents``   one module per trainer: ``dqn`` (TF-Agents), ``dqn_scratch``,
                   ``fast_dqn``, ``actor_critic``, ``ppo``
=================  =====================================================================

``utils.bootstrap`` (the notebooks' setup cell looks for it here) belongs to the
infrastructure layer; ``utils.exercises`` holds the notebooks' exercise checkers and
reference solutions.

The dependency rule, checked by ``tests/test_layers.py``: a module imports only from its own
layer and the layers listed above it (``infra`` imports only ``infra``; ``envs`` imports
``infra`` and ``envs``; ``rl`` imports those and ``rl``; an agent imports ``infra``, ``envs``
and ``rl``). No agent imports another, and no module of ``utils`` imports an agent except
``utils.exercises``, which sits at the edge with the notebooks, scripts, benchmarks and tests:
an exercise that is about learning trains an agent with the learner's function.

The pieces of an algorithm that a notebook teaches are defined in that notebook, in cells
marked ``#@save``; ``make export`` (``scripts/export_notebooks.py``) copies them into a block
of the agent's module that names the notebook, and ``tests/test_exported_code.py`` fails while
the two differ. Edit the notebook, not the block.

Importing this package, ``utils.bootstrap`` or ``utils.infra`` is cheap and never imports
TensorFlow, so a notebook can call ``bootstrap.setup()`` before TensorFlow is loaded. Each
helper's docstring names the notebook that teaches it.
"""
