"""Start programs, read the status lines they print, and stop every one of them at the end.

Notebook 12 runs a Reverb server, actors, a learner and an evaluator as separate programs;
``utils.rl.distributed.Cluster`` starts them through a :class:`Launcher`. Programs talk to
the launcher only through their output: a line ``status NAME STATE | key=value ...`` (made
by :func:`status_line`) says how a program is doing; every line also goes to its log file.

No process outlives its launcher: each is started in a session of its own (so a Ctrl-C in
the terminal reaches the launcher, which then stops them in order), asks Linux to kill it
when the launcher dies (``PR_SET_PDEATHSIG``, so even a launcher killed with SIGKILL leaves
nothing behind), and :meth:`Launcher.stop_all` runs on success, failure and at exit.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

STATUS = "status"
# Proxy settings would send gRPC's connections to a proxy instead of the address given.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "grpc_proxy", "all_proxy", "no_proxy")


def status_line(name: str, state: str, **values: object) -> str:
    """``status NAME STATE | key=value ...``: what a program prints to say how it is doing."""
    pairs = " ".join(f"{key}={_show(value)}" for key, value in values.items())
    return f"{STATUS} {name} {state}" + (f" | {pairs}" if pairs else "")


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace(" ", "_")


def parse_status(line: str) -> tuple[str, str, dict[str, object]] | None:
    """``(name, state, values)`` of a status line (numbers as numbers), or None for other lines."""
    head, _, tail = line.strip().partition(" | ")
    words = head.split()
    if len(words) != 3 or words[0] != STATUS:
        return None
    values: dict[str, object] = {}
    for pair in tail.split():
        key, sep, text = pair.partition("=")
        if not sep:
            return None
        values[key] = _number(text)
    return words[1], words[2], values


def _number(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without proxy settings, unbuffered, with ``extra`` added."""
    env = {key: value for key, value in os.environ.items() if key.lower() not in PROXY_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(extra or {})
    return env


def die_with_parent() -> None:
    """Call in a child process: Linux sends it SIGKILL when its parent dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _own_session_dying_with_parent() -> None:
    """In the child, before it runs: a session of its own, and SIGKILL when the parent dies."""
    os.setsid()
    die_with_parent()


@dataclass
class Program:
    """One started program: its process, latest status, last lines of output and log file."""

    name: str
    argv: list[str]
    process: subprocess.Popen
    log: Path
    started: float = field(default_factory=time.monotonic)
    state: str = "starting"
    values: dict = field(default_factory=dict)
    tail: deque = field(default_factory=lambda: deque(maxlen=20))
    # Every status line so far: (seconds since the launcher started, state, values).
    statuses: list = field(default_factory=list)
    expected_exit: bool = False  # stopped or killed on purpose

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def running(self) -> bool:
        return self.process.poll() is None


class Launcher:
    """Programs started from one folder (logs in ``folder/logs``), stopped together.

    Call it from the main thread: Linux's parent-death signal follows the thread that
    started the child.
    """

    def __init__(self, folder: str | Path, env: dict[str, str] | None = None) -> None:
        self.folder = Path(folder)
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        self.env = child_environment(env)
        self.programs: dict[str, Program] = {}
        self.started = time.monotonic()
        self._lock = threading.Lock()
        _LAUNCHERS.add(self)

    def start(self, name: str, argv: list[str], *, prefix: list[str] | None = None) -> Program:
        """Start ``argv`` as program ``name`` (a running one of that name is an error).

        ``prefix`` goes before ``argv`` (e.g. ``ip netns exec NS``).
        """
        old = self.programs.get(name)
        if old is not None and old.running:
            raise RuntimeError(f"{name} is already running (pid {old.process.pid}).")
        log = self.folder / "logs" / f"{name}.log"
        command = [*(prefix or []), *argv]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            preexec_fn=_own_session_dying_with_parent,
            text=True,
            bufsize=1,
        )
        program = Program(name, command, process, log)
        self.programs[name] = program
        threading.Thread(target=self._read, args=(program,), daemon=True).start()
        return program

    def _read(self, program: Program) -> None:
        with program.log.open("a") as log:
            for line in program.process.stdout:
                log.write(line)
                log.flush()
                program.tail.append(line.rstrip("\n"))
                parsed = parse_status(line)
                if parsed is not None:
                    with self._lock:
                        program.state, program.values = parsed[1], {**program.values, **parsed[2]}
                        seconds = time.monotonic() - self.started
                        program.statuses.append((seconds, parsed[1], parsed[2]))

    def statuses(self, name: str) -> list[tuple[float, str, dict]]:
        """Every status line of ``name``: (seconds since the launcher started, state, values)."""
        with self._lock:
            return list(self.programs[name].statuses)

    def status(self, name: str) -> tuple[str, dict]:
        """The latest state and values ``name`` reported."""
        program = self.programs[name]
        with self._lock:
            return program.state, dict(program.values)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to ``name`` (SIGKILL: at once, no clean-up) and wait for it to end."""
        program = self.programs[name]
        program.expected_exit = True
        if program.running:
            program.process.send_signal(sig)
        program.process.wait()

    def failures(self) -> list[Program]:
        """Programs that ended with an error without being stopped on purpose."""
        return [
            p
            for p in self.programs.values()
            if not p.expected_exit and p.returncode not in (None, 0)
        ]

    def stop_all(self, grace: float = 5.0) -> None:
        """SIGTERM every running program, then SIGKILL what is left after ``grace`` seconds."""
        running = [p for p in self.programs.values() if p.running]
        for program in running:
            program.expected_exit = True
            program.process.terminate()
        deadline = time.monotonic() + grace
        for program in running:
            try:
                program.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                program.process.kill()
                program.process.wait()

    def running(self) -> list[str]:
        """Names of the programs still running."""
        return [name for name, p in self.programs.items() if p.running]


_LAUNCHERS: weakref.WeakSet[Launcher] = weakref.WeakSet()


@atexit.register
def _stop_everything() -> None:
    for launcher in list(_LAUNCHERS):
        launcher.stop_all(grace=2.0)


class LiveLine:
    """One line of status that updates in place: in a notebook, on a terminal, or in a log.

    In a notebook the output is one display updated in place (what the saved notebook shows
    is the last state); on a terminal the line is redrawn; elsewhere (a log, CI) a line is
    printed every ``every`` seconds.
    """

    def __init__(self, every: float = 10.0) -> None:
        from utils.infra import report

        self.every, self.last, self.text = every, 0.0, ""
        self.notebook = report.in_notebook_kernel()
        self.tty = not self.notebook and os.isatty(1)
        self.handle = None
        if self.notebook:
            from IPython.display import Pretty, display

            self.handle = display(Pretty(""), display_id=True)

    def show(self, text: str, *, final: bool = False) -> None:
        """Show ``text`` (``final``: the last time, so it stays)."""
        self.text = text
        if self.notebook:
            from IPython.display import Pretty

            self.handle.update(Pretty(text))
        elif self.tty:
            print("\r\033[K" + text, end="\n" if final else "", flush=True)
        elif final or time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            print(text, flush=True)
