"""Frames to MP4 and GIF, side by side, and showing them inline.

Taught in notebook 03; notebook 05 builds episode recorders on top of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_FPS = 30


def _check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError("No frames to write: record at least one step of an episode first.")
    shape = frames[0].shape
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"Frames must be height x width x 3 RGB arrays; got shape {shape}.")
    if any(f.shape != shape for f in frames):
        raise ValueError("All frames must have the same size.")
    return [f.astype(np.uint8) for f in frames]


def _check_fps(fps: float | None) -> float:
    if fps is None:
        return DEFAULT_FPS
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number; got {fps!r}.")
    return float(fps)


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """H.264 needs even width and height: pad by one edge pixel where needed."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary imageio uses, or a clear error saying how to get one."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as err:
        raise RuntimeError(
            "No ffmpeg found for writing MP4 video. Install it with `pip install imageio-ffmpeg` "
            "(it ships its own ffmpeg binary) or your system's ffmpeg package; GIFs need no ffmpeg."
        ) from err


def write_mp4(frames: Sequence[np.ndarray], path: str | Path, fps: float | None = None) -> Path:
    """Write frames to an H.264 MP4 (no resizing) and return its path."""
    import imageio

    frames = _check_frames(frames)
    fps = _check_fps(fps)
    ffmpeg_exe()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # macro_block_size=1 keeps the frame size as it is (the default would resize 600 to 608).
    with imageio.get_writer(
        path,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        macro_block_size=1,
        pixelformat="yuv420p",
        ffmpeg_log_level="error",
    ) as writer:
        for frame in frames:
            writer.append_data(_pad_even(frame))
    return path


def write_gif(
    frames: Sequence[np.ndarray],
    path: str | Path,
    fps: float | None = None,
    scale: float = 0.5,
    every: int = 2,
) -> Path:
    """Write frames to a looping GIF, downscaled and thinned to keep the file small."""
    import imageio
    import PIL.Image

    frames = _check_frames(frames)
    fps = _check_fps(fps)
    if every < 1 or not 0 < scale <= 1:
        raise ValueError("every must be >= 1 and scale in (0, 1].")
    kept = frames[::every]
    if scale != 1:
        h, w = kept[0].shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        kept = [np.asarray(PIL.Image.fromarray(f).resize(size, PIL.Image.BILINEAR)) for f in kept]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, kept, format="GIF", duration=1000 * every / fps, loop=0)
    return path


def side_by_side(
    left: Sequence[np.ndarray],
    right: Sequence[np.ndarray],
    gap: int = 8,
    *,
    titles: tuple[str, str] | None = None,
) -> list[np.ndarray]:
    """Join two episodes frame by frame; the shorter one holds its last frame.

    ``titles`` writes a caption above each side (e.g. ``("trained", "random")``).
    """
    left, right = _check_frames(left), _check_frames(right)
    n = max(len(left), len(right))
    h = max(left[0].shape[0], right[0].shape[0])

    def at(frames, i):
        f = frames[min(i, len(frames) - 1)]
        return np.pad(f, ((0, h - f.shape[0]), (0, 0), (0, 0)), constant_values=255)

    spacer = np.full((h, gap, 3), 255, dtype=np.uint8)
    joined = [np.concatenate([at(left, i), spacer, at(right, i)], axis=1) for i in range(n)]
    if titles is None:
        return joined
    band = _caption_band(joined[0].shape[1], [(0, titles[0]), (left[0].shape[1] + gap, titles[1])])
    return [np.concatenate([band, frame], axis=0) for frame in joined]


def _caption_band(width: int, captions: list[tuple[int, str]], height: int = 40) -> np.ndarray:
    """A white band ``height`` pixels high with each caption written at its x offset."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=int(height * 0.7))  # Pillow >= 10.1: scalable
    except TypeError:  # an older Pillow: its small bitmap font
        font = ImageFont.load_default()
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for x, text in captions:
        draw.text((x + 6, height * 0.1), text, fill="black", font=font)
    return np.asarray(image, dtype=np.uint8)


def show_video(path: str | Path, width: int = 600):
    """Embed an MP4 in the notebook (IPython's own Video object, data embedded)."""
    from IPython.display import Video, display

    video = Video(
        str(path), embed=True, width=width, html_attributes="controls loop autoplay muted"
    )
    display(video)
    return video


def show_gif(path: str | Path, width: int | None = None):
    """Embed a GIF in the notebook."""
    from IPython.display import Image, display

    image = Image(filename=str(path), width=width)
    display(image)
    return image
