"""The trainers, one module each; only notebooks, scripts, benchmarks and tests import them.

An agent imports ``utils.infra``, ``utils.envs`` and ``utils.rl``, never another agent.
"""
