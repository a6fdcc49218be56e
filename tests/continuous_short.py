"""A short version of notebook 10's settings, for tests that train for a few phases."""

from utils.agents import continuous

SHORT = continuous.COURSE.replace(
    actor_layers=(16,),
    critic_layers=(16,),
    initial_collect_steps=300,
    collect_steps_per_iteration=100,
    train_steps_per_iteration=20,
    sample_size=256,
    batch_size=32,
    max_env_steps=500,
    eval_episodes=2,
    solve_episodes=4,
)
