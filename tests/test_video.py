"""Tests for utils.infra.video: MP4 and GIF writing, side by side, embedding."""

import warnings

import imageio
import numpy as np
import pytest

from utils.infra import video


def frames(n=10, h=400, w=600):
    return [np.full((h, w, 3), 20 * i % 255, dtype=np.uint8) for i in range(n)]


def test_mp4_keeps_the_frame_size_without_warnings(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = video.write_mp4(frames(), tmp_path / "sub" / "clip.mp4", fps=25)
    reader = imageio.get_reader(path, format="FFMPEG")
    meta = reader.get_meta_data()
    assert tuple(meta["size"]) == (600, 400)
    assert meta["fps"] == pytest.approx(25)
    assert reader.count_frames() == 10


def test_mp4_pads_odd_sizes(tmp_path):
    path = video.write_mp4(frames(3, h=33, w=51), tmp_path / "odd.mp4")
    size = imageio.get_reader(path, format="FFMPEG").get_meta_data()["size"]
    assert tuple(size) == (52, 34)


def test_fps_none_falls_back_to_default(tmp_path):
    path = video.write_mp4(frames(3), tmp_path / "a.mp4", fps=None)
    fps = imageio.get_reader(path, format="FFMPEG").get_meta_data()["fps"]
    assert fps == pytest.approx(video.DEFAULT_FPS)


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_bad_fps_is_rejected(tmp_path, bad):
    with pytest.raises(ValueError, match="fps"):
        video.write_mp4(frames(2), tmp_path / "a.mp4", fps=bad)


def test_no_frames_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="No frames"):
        video.write_gif([], tmp_path / "a.gif")


def test_wrong_frame_shape_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="RGB"):
        video.write_gif([np.zeros((4, 4))], tmp_path / "a.gif")


def test_missing_ffmpeg_says_how_to_get_it(monkeypatch, tmp_path):
    import imageio_ffmpeg

    def no_ffmpeg():
        raise RuntimeError("No ffmpeg exe could be found.")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_ffmpeg)
    with pytest.raises(RuntimeError, match="pip install imageio-ffmpeg"):
        video.write_mp4(frames(2), tmp_path / "a.mp4")


def test_gif_is_downscaled_and_thinned(tmp_path):
    path = video.write_gif(frames(10), tmp_path / "a.gif", fps=20, scale=0.5, every=2)
    gif = imageio.mimread(path)
    assert len(gif) == 5
    assert gif[0].shape[:2] == (200, 300)


def test_side_by_side_pads_the_shorter_episode():
    joined = video.side_by_side(frames(3, 10, 20), frames(5, 8, 20), gap=4)
    assert len(joined) == 5
    assert joined[0].shape == (10, 44, 3)


def test_embedding_uses_ipython_objects(tmp_path):
    mp4 = video.write_mp4(frames(3), tmp_path / "a.mp4")
    gif = video.write_gif(frames(3), tmp_path / "a.gif")
    shown = video.show_video(mp4)
    assert shown.embed and "video" in shown._repr_html_()
    assert video.show_gif(gif).data[:3] == b"GIF"


def test_side_by_side_writes_a_caption_band_above_both_episodes():
    left = [np.zeros((30, 40, 3), np.uint8)] * 3
    right = [np.zeros((20, 50, 3), np.uint8)] * 2
    frames = video.side_by_side(left, right, titles=("trained", "random"))
    assert len(frames) == 3 and frames[0].shape == (40 + 30, 40 + 8 + 50, 3)
    band = frames[0][:40]
    assert band.min() < 255 < band.max() + 1  # white, with dark text on it
    assert (frames[0][40:] == video.side_by_side(left, right)[0]).all()
