"""RL building blocks shared by every trainer: evaluation, replay, the training scaffold.

Imports ``utils.infra`` and ``utils.envs``; never an agent.
"""
