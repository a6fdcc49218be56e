"""Tests for utils.infra.runtime: display selection, versions, devices."""

import os

import pytest

from utils import bootstrap
from utils.infra import runtime


@pytest.fixture
def clean_display(monkeypatch):
    """No X display, no virtual display started, SDL variables unset."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.setattr(runtime, "_virtual_display", None)
    yield
    runtime.stop_display()


def test_auto_without_xvfb_uses_sdl_dummy(clean_display, monkeypatch):
    monkeypatch.setattr(runtime, "xvfb_available", lambda: False)
    choice = runtime.setup_display()
    assert choice.mode == "dummy"
    assert os.environ["SDL_VIDEODRIVER"] == "dummy"
    assert "dummy" in str(choice)


def test_setup_display_twice_is_safe(clean_display, monkeypatch):
    monkeypatch.setattr(runtime, "xvfb_available", lambda: False)
    assert runtime.setup_display().mode == runtime.setup_display().mode == "dummy"


def test_existing_display_is_kept(clean_display, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":42")
    choice = runtime.setup_display()
    assert choice.mode == "existing" and ":42" in choice.detail


def test_xvfb_mode_without_xvfb_says_what_to_do(clean_display, monkeypatch):
    monkeypatch.setattr(runtime, "xvfb_available", lambda: False)
    with pytest.raises(RuntimeError, match="apt-get install xvfb"):
        runtime.setup_display("xvfb")


def test_existing_mode_without_display_is_clear(clean_display):
    with pytest.raises(RuntimeError, match="DISPLAY is not set"):
        runtime.setup_display("existing")


def test_unknown_mode_is_rejected(clean_display):
    with pytest.raises(ValueError, match="mode must be one of"):
        runtime.setup_display("windowed")


@pytest.mark.skipif(not runtime.xvfb_available(), reason="Xvfb is not installed here")
def test_auto_with_xvfb_starts_one_virtual_display(clean_display):
    first = runtime.setup_display()
    display = os.environ["DISPLAY"]
    second = runtime.setup_display()
    assert first.mode == second.mode == "xvfb"
    assert os.environ["DISPLAY"] == display
    assert "already running" in second.detail


def test_setup_prints_choice(clean_display, monkeypatch, capsys):
    monkeypatch.setattr(runtime, "xvfb_available", lambda: False)
    runtime.setup()
    assert "rendering: dummy" in capsys.readouterr().out
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"]


def test_versions_lists_the_stack():
    found = runtime.versions()
    assert found["python"].count(".") == 2
    assert {"tensorflow", "tf-agents", "reverb", "gym"} <= set(found)
    assert bootstrap.installed("surely-not-a-package-xyz") is None


def test_in_colab_detects_the_environment_variable(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert runtime.in_colab() is False
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-test")
    assert runtime.in_colab() is True


def test_device_report_names_where_an_op_ran():
    report = runtime.device_report()
    assert report["cpus"]
    assert "device:" in report["matmul_ran_on"]
    if not report["gpus"]:
        assert "CPU" in report["matmul_ran_on"]


def test_routine_reverb_lines_are_dropped_and_the_rest_kept():
    lines = [
        b"[reverb/cc/platform/default/server.cc:71] Started replay server on port 33139",
        b"[reverb/cc/client.cc:165] Sampler and server are owned by the same process (1) so",
        b"[reverb/cc/trajectory_writer.cc:655] The number of pending items is alarmingly high",
        b"[reverb/cc/table.cc:1] Something went wrong",
        b"Segmentation fault",
    ]
    assert runtime.filter_native_lines(lines) == lines[3:]


def test_native_filter_only_runs_in_a_kernel():
    assert runtime.quiet_native_logs() is False  # pytest's stderr is a real file


def test_library_deprecation_notices_are_hidden_and_the_learners_kept():
    import logging

    runtime.quiet_library_deprecations()
    runtime.quiet_library_deprecations()  # once is enough
    logger = logging.getLogger("tensorflow")
    assert sum(isinstance(f, runtime._LibraryDeprecations) for f in logger.filters) == 1

    def record(where):
        message = "From %s: calling foldr_v2 (from x) with back_prop=False is deprecated"
        return logging.LogRecord("tensorflow", logging.WARNING, "", 0, message, (where,), None)

    library = record("/venv/lib/python3.11/site-packages/tf_agents/agents/dqn/dqn_agent.py:1")
    assert not logger.filter(library)
    assert logger.filter(record("/home/me/my_notebook.py:3"))
