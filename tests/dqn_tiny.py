"""A tiny version of notebook 03's DQN settings, for tests that train for a few iterations."""

from utils.agents import dqn

TINY = dqn.COURSE.replace(
    name="tiny",
    hidden_layers=(16,),
    initial_collect_steps=64,
    collect_steps_per_iteration=16,
    train_steps_per_iteration=4,
    sample_size=128,
    batch_size=32,
    num_iterations=6,
    eval_interval=3,
    eval_episodes=2,
    solve_episodes=4,
)
