"""Tests for utils.envs.recording: episode statistics, video triggers, files and frame rates."""

import imageio
import numpy as np
import pytest
from scripted_env import ScriptedEnv
from tf_agents.environments import batched_py_environment, tf_py_environment
from tf_agents.policies import random_py_policy

from utils.envs import recording
from utils.infra import video


def run_steps(env, steps, action=0):
    """Reset, then take ``steps`` steps with a fixed action; return the last time step."""
    time_step = env.reset()
    for _ in range(steps):
        time_step = env.step(np.int64(action))
    return time_step


def frames_in(path):
    return imageio.get_reader(path, format="FFMPEG").count_frames()


def fps_of(path):
    return imageio.get_reader(path, format="FFMPEG").get_meta_data()["fps"]


# ----------------------------------------------------------------------------- statistics


def test_statistics_match_the_scripted_episodes():
    env = recording.RecordEpisodeStatistics(ScriptedEnv(lengths=(3, 5, 7)))
    # Episodes of 3, 5, 7, 3 steps, each followed by the auto-reset step, then 2 more steps.
    run_steps(env, 3 + 1 + 5 + 1 + 7 + 1 + 3 + 1 + 2)
    assert list(env.return_queue) == [3.0, 5.0, 7.0, 3.0]
    assert list(env.length_queue) == [3, 5, 7, 3]
    assert env.episode_count == 4
    assert env.total_steps == 3 + 5 + 7 + 3 + 2
    assert all(t > 0 for t in env.time_queue) and len(env.time_queue) == 4


def test_deques_keep_only_the_last_episodes():
    env = recording.RecordEpisodeStatistics(ScriptedEnv(lengths=(1, 2)), deque_size=3)
    run_steps(env, 5 * 2 + 5 * 3)  # ten episodes: 1, 2, 1, 2, ... steps
    assert env.episode_count == 10
    assert list(env.length_queue) == [2, 1, 2]
    assert list(env.return_queue) == [2.0, 1.0, 2.0]
    assert len(env.time_queue) == 3
    assert [row["episode"] for row in env.as_rows()] == [7, 8, 9]


def test_reset_mid_episode_is_not_counted():
    env = recording.RecordEpisodeStatistics(ScriptedEnv(lengths=(4, 2)))
    run_steps(env, 3)  # episode 0 is cut short after 3 of its 4 steps
    run_steps(env, 2)  # episode 1 (2 steps) finishes
    assert env.episode_count == 1
    assert list(env.return_queue) == [2.0]
    assert list(env.length_queue) == [2]


def test_step_before_reset_starts_an_episode():
    env = recording.RecordEpisodeStatistics(ScriptedEnv(lengths=(2,)))
    assert env.step(np.int64(0)).is_first()
    env.step(np.int64(0))
    env.step(np.int64(0))
    assert list(env.return_queue) == [2.0]


def test_summary_rows_and_table():
    env = recording.RecordEpisodeStatistics(ScriptedEnv(lengths=(3, 5)))
    empty = env.summary()
    assert empty["episodes"] == 0 and np.isnan(empty["mean_return"])
    run_steps(env, 3 + 1 + 5)
    summary = env.summary()
    assert summary["episodes"] == 2 and summary["kept"] == 2
    assert summary["mean_return"] == 4.0 and summary["mean_length"] == 4.0
    assert summary["min_return"] == 3.0 and summary["max_return"] == 5.0
    assert summary["mean_time"] > 0
    rows = env.as_rows()
    assert [(r["episode"], r["return"], r["length"]) for r in rows] == [(0, 3.0, 3), (1, 5.0, 5)]
    table = env.table()
    assert table.splitlines()[0].split() == ["episode", "return", "length", "time", "(s)"]
    assert len(table.splitlines()) == 3
    assert len(env.table(last=1).splitlines()) == 2


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_deque_size_is_rejected(bad):
    with pytest.raises(ValueError, match="deque_size"):
        recording.RecordEpisodeStatistics(ScriptedEnv(), deque_size=bad)


def test_batched_and_tf_environments_are_rejected_with_advice():
    batched = batched_py_environment.BatchedPyEnvironment([ScriptedEnv(), ScriptedEnv()])
    with pytest.raises(ValueError, match="Wrap each environment first"):
        recording.RecordEpisodeStatistics(batched)
    tf_env = tf_py_environment.TFPyEnvironment(ScriptedEnv())
    with pytest.raises(TypeError, match="before converting it with TFPyEnvironment"):
        recording.RecordEpisodeStatistics(tf_env)


# ----------------------------------------------------------------------------- triggers


def test_triggers_fire_on_the_right_episodes():
    assert all(recording.every_episode(i) for i in range(20))
    every_3 = recording.every_nth_episode(3)
    assert [i for i in range(10) if every_3(i)] == [0, 3, 6, 9]
    cubic = [i for i in range(5001) if recording.capped_cubic_episode(i)]
    assert cubic == [k**3 for k in range(10)] + [1000, 2000, 3000, 4000, 5000]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_every_nth_rejects_bad_n(bad):
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        recording.every_nth_episode(bad)


# ----------------------------------------------------------------------------- video


def test_videos_of_triggered_episodes_with_all_their_frames(tmp_path):
    env = recording.RecordVideo(
        ScriptedEnv(lengths=(3, 5)),
        tmp_path / "videos",
        episode_trigger=recording.every_nth_episode(2),
        name_prefix="scripted",
    )
    run_steps(env, 3 + 1 + 5 + 1 + 3 + 1 + 5)  # episodes 0..3 finish
    names = [p.name for p in env.recorded_paths]
    assert names == ["scripted-episode-0.mp4", "scripted-episode-2.mp4"]
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == names
    # One frame at reset and one after each step.
    assert frames_in(env.recorded_paths[0]) == 4
    assert env.episode_id == 3 and not env.recording


def test_default_trigger_is_capped_cubic(tmp_path):
    env = recording.RecordVideo(ScriptedEnv(lengths=(1,)), tmp_path)
    run_steps(env, 2 * 10 - 1)  # episodes 0..9, one step each plus the auto-reset step
    assert [p.name for p in env.recorded_paths] == [
        "rl-video-episode-0.mp4",
        "rl-video-episode-1.mp4",
        "rl-video-episode-8.mp4",
    ]


def test_gif_format(tmp_path):
    env = recording.RecordVideo(
        ScriptedEnv(lengths=(4,)), tmp_path, recording.every_episode, video_format="gif"
    )
    run_steps(env, 4)
    assert [p.suffix for p in env.recorded_paths] == [".gif"]
    assert env.recorded_paths[0].read_bytes()[:3] == b"GIF"


def test_fps_default_metadata_and_explicit(tmp_path):
    plain = ScriptedEnv()
    assert recording.env_fps(plain) == video.DEFAULT_FPS
    env = recording.RecordVideo(plain, tmp_path / "a", recording.every_episode)
    run_steps(env, 3)
    assert env.fps == video.DEFAULT_FPS
    assert fps_of(env.recorded_paths[0]) == pytest.approx(video.DEFAULT_FPS)

    old_gym = ScriptedEnv()
    old_gym.metadata = {"video.frames_per_second": 12}
    new_gym = ScriptedEnv()
    new_gym.metadata = {"render_fps": 8, "video.frames_per_second": 12}
    unset = ScriptedEnv()
    unset.metadata = {"render_fps": None}  # what made Gymnasium + moviepy crash
    assert recording.env_fps(old_gym) == 12
    assert recording.env_fps(new_gym) == 8
    assert recording.env_fps(unset) == video.DEFAULT_FPS

    env = recording.RecordVideo(new_gym, tmp_path / "b", recording.every_episode)
    run_steps(env, 3)
    assert fps_of(env.recorded_paths[0]) == pytest.approx(8)
    env = recording.RecordVideo(new_gym, tmp_path / "c", recording.every_episode, fps=5)
    assert env.fps == 5


@pytest.mark.parametrize("bad", [0, -2, float("nan"), "30"])
def test_bad_fps_is_rejected(tmp_path, bad):
    with pytest.raises(ValueError, match="fps must be a positive number"):
        recording.RecordVideo(ScriptedEnv(), tmp_path, fps=bad)


def test_non_empty_folder_is_refused_unless_overwrite(tmp_path):
    first = recording.RecordVideo(ScriptedEnv(lengths=(2,)), tmp_path, recording.every_episode)
    run_steps(first, 2 + 1 + 2)  # two videos
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "other-episode-0.mp4").write_bytes(b"not ours")

    with pytest.raises(FileExistsError, match="overwrite=True"):
        recording.RecordVideo(ScriptedEnv(), tmp_path)

    again = recording.RecordVideo(
        ScriptedEnv(lengths=(2,)), tmp_path, recording.every_episode, overwrite=True
    )
    # Earlier videos with this prefix are gone; unrelated files are kept.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "other-episode-0.mp4"]
    run_steps(again, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "other-episode-0.mp4",
        "rl-video-episode-0.mp4",
    ]
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_file_as_folder_and_bad_arguments_are_clear(tmp_path):
    file = tmp_path / "file.mp4"
    file.write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        recording.RecordVideo(ScriptedEnv(), file)
    with pytest.raises(ValueError, match="video_format"):
        recording.RecordVideo(ScriptedEnv(), tmp_path / "x", video_format="avi")
    with pytest.raises(ValueError, match="name_prefix"):
        recording.RecordVideo(ScriptedEnv(), tmp_path / "x", name_prefix="a/b")
    with pytest.raises(TypeError, match="episode_trigger"):
        recording.RecordVideo(ScriptedEnv(), tmp_path / "x", episode_trigger=3)


def test_close_and_reset_write_an_unfinished_episode(tmp_path):
    env = recording.RecordVideo(ScriptedEnv(lengths=(10,)), tmp_path, recording.every_episode)
    run_steps(env, 4)  # episode 0 cut short by the reset inside run_steps below
    run_steps(env, 2)  # episode 1, unfinished when closing
    env.close()
    assert [p.name for p in env.recorded_paths] == [
        "rl-video-episode-0.mp4",
        "rl-video-episode-1.mp4",
    ]
    assert [frames_in(p) for p in env.recorded_paths] == [5, 3]
    env.close()  # closing twice writes nothing more
    assert len(env.recorded_paths) == 2


def test_an_episode_without_steps_is_dropped(tmp_path):
    env = recording.RecordVideo(ScriptedEnv(), tmp_path, recording.every_episode)
    env.reset()
    env.reset()
    env.close()
    assert env.recorded_paths == []


def test_wrappers_stack_and_share_attributes(tmp_path):
    stats = recording.RecordEpisodeStatistics(ScriptedEnv(lengths=(2,)))
    env = recording.RecordVideo(stats, tmp_path, recording.every_episode)
    run_steps(env, 2 + 1 + 2)
    assert list(env.return_queue) == [2.0, 2.0]  # reached through the outer wrapper
    assert len(env.recorded_paths) == 2


def test_cartpole_headless_with_a_random_policy(tmp_path):
    from tf_agents.environments import suite_gym

    stats = recording.RecordEpisodeStatistics(suite_gym.load("CartPole-v1"))
    env = recording.RecordVideo(stats, tmp_path, recording.every_episode)
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec())
    time_step = env.reset()
    while stats.episode_count < 1:
        time_step = env.step(policy.action(time_step).action)
    env.close()
    assert env.fps == 50  # CartPole's own metadata, found through the wrappers
    (path,) = env.recorded_paths
    assert fps_of(path) == pytest.approx(50)
    assert frames_in(path) == stats.length_queue[0] + 1
    assert stats.return_queue[0] == stats.length_queue[0]  # CartPole pays 1 per step


# --- Gymnasium's own wrappers ----------------------------------------------------------


def _versions(monkeypatch, **versions):
    from importlib import metadata

    def version(name):
        if versions.get(name) is None:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(metadata, "version", version)


def test_moviepy_problem_names_decorator_5(monkeypatch):
    _versions(monkeypatch, moviepy="1.0.3", decorator="5.3.1")
    problem = recording.moviepy_problem()
    assert "decorator 5.3.1" in problem and "pip install 'decorator<5'" in problem
    assert "\n" not in problem


def test_moviepy_problem_none_when_the_frame_rate_survives(monkeypatch):
    _versions(monkeypatch, moviepy="1.0.3", decorator="4.4.2")
    assert recording.moviepy_problem() is None
    _versions(monkeypatch, moviepy="2.2.1", decorator="5.3.1")  # moviepy 2 has no decorator
    assert recording.moviepy_problem() is None


def test_moviepy_problem_names_a_missing_moviepy(monkeypatch):
    _versions(monkeypatch, decorator="4.4.2")
    assert "moviepy is not installed" in recording.moviepy_problem()


def test_gymnasium_recorders_stop_before_the_episode_when_moviepy_would_fail(monkeypatch, tmp_path):
    import gymnasium

    _versions(monkeypatch, moviepy="1.0.3", decorator="5.0.0")
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    with pytest.raises(RuntimeError, match="decorator<5"):
        recording.gymnasium_recorders(env, tmp_path)
    env.close()


def test_gymnasium_recorders_need_frames(tmp_path):
    import gymnasium

    env = gymnasium.make("CartPole-v1")
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        recording.gymnasium_recorders(env, tmp_path)
    env.close()


def test_gymnasium_recorders_write_videos_at_the_environments_frame_rate(tmp_path):
    import gymnasium

    base = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    base.unwrapped.metadata = {**base.unwrapped.metadata, "render_fps": None}  # declared, empty
    env = recording.gymnasium_recorders(base, tmp_path, name_prefix="eval", buffer_length=2)
    env.action_space.seed(0)
    for episode in range(3):
        env.reset(seed=episode)
        over = False
        while not over:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            over = terminated or truncated
    env.close()
    assert len(env.return_queue) == 2 and list(env.return_queue) == list(env.length_queue)
    paths = sorted(tmp_path.glob("eval-episode-*.mp4"))
    assert [p.name for p in paths] == [f"eval-episode-{i}.mp4" for i in range(3)]
    fps = imageio.get_reader(paths[0], format="FFMPEG").get_meta_data()["fps"]
    assert fps == video.DEFAULT_FPS  # render_fps None: the default, not None
