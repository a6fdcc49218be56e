"""A tiny environment whose episode returns are known in advance, for testing helpers."""

from __future__ import annotations

import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts


class ScriptedEnv(py_environment.PyEnvironment):
    """Episode k lasts ``lengths[k % len(lengths)]`` steps and pays 1 per step (return = length)."""

    def __init__(self, lengths=(3, 5, 7), reward: float = 1.0):
        super().__init__(handle_auto_reset=True)
        self._lengths = list(lengths)
        self._reward = reward
        self._episode = -1
        self._t = 0
        self._action_spec = array_spec.BoundedArraySpec((), np.int64, 0, 1, name="action")
        self._observation_spec = array_spec.ArraySpec((2,), np.float32, name="observation")

    def action_spec(self):
        return self._action_spec

    def observation_spec(self):
        return self._observation_spec

    def _observation(self):
        return np.array([self._episode, self._t], dtype=np.float32)

    def _reset(self):
        self._episode += 1
        self._t = 0
        return ts.restart(self._observation())

    def _step(self, action):
        self._t += 1
        length = self._lengths[self._episode % len(self._lengths)]
        if self._t >= length:
            return ts.termination(self._observation(), self._reward)
        return ts.transition(self._observation(), self._reward)

    def render(self, mode="rgb_array"):
        frame = np.zeros((8, 10, 3), dtype=np.uint8)
        frame[..., 0] = 10 * self._t
        return frame
