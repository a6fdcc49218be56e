"""The distributed roles (utils/rl/distributed.py, notebook 12): addresses, the launcher, the
programs' one-line failures, the pieces in one process, and the roles across network
namespaces joined only by veth pairs (root and ``ip netns`` needed; skipped otherwise)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from utils.infra import launcher
from utils.rl import distributed

ROOT = Path(__file__).resolve().parent.parent
ROLE = [sys.executable, str(ROOT / "scripts" / "distributed_dqn.py")]
LAUNCH = [sys.executable, str(ROOT / "scripts" / "launch_distributed.py")]
ENV = launcher.child_environment()


def run(argv, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=timeout)


# --- addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:8000", ("localhost", 8000)),
        ("10.0.0.2:1", ("10.0.0.2", 1)),
        ("[::1]:65535", ("::1", 65535)),
        (" reverb-server.local:8000 ", ("reverb-server.local", 8000)),
    ],
)
def test_addresses_that_parse(text, expected):
    assert distributed.parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "localhost", ":8000", "host:0", "host:65536", "a b:1", "h:x"])
def test_addresses_that_do_not_parse_say_what_to_give(text):
    with pytest.raises(distributed.AddressError, match="host:port"):
        distributed.parse_address(text)


def test_a_port_in_use_is_refused_and_a_free_one_accepted():
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(distributed.AddressError, match=f"port {port} is already in use"):
            distributed.check_port(port)
    assert distributed.check_port(distributed.free_port()) > 0
    assert distributed.check_port(0) == 0
    with pytest.raises(distributed.AddressError, match="0 to 65535"):
        distributed.check_port(70000)


# --- status lines and the launcher -------------------------------------------------------


def test_status_lines_round_trip_and_other_lines_are_not_status():
    line = launcher.status_line("actor-0", "collecting", env_steps=512, rate=812.345, server="h:1")
    assert line == "status actor-0 collecting | env_steps=512 rate=812.3 server=h:1"
    assert launcher.parse_status(line) == (
        "actor-0",
        "collecting",
        {"env_steps": 512, "rate": 812.3, "server": "h:1"},
    )
    assert launcher.parse_status("status learner waiting-for-data") == (
        "learner",
        "waiting-for-data",
        {},
    )
    for other in (
        "Traceback (most recent call last):",
        "status two-words",
        "status a b | c",
        "statuses a b",
    ):
        assert launcher.parse_status(other) is None


def test_children_get_no_proxy_settings(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("grpc_proxy", "http://proxy.invalid:3128")
    env = launcher.child_environment({"EXTRA": "1"})
    assert "HTTPS_PROXY" not in env and "grpc_proxy" not in env
    assert env["EXTRA"] == "1" and env["PYTHONUNBUFFERED"] == "1"


def test_launcher_reads_status_logs_output_and_stops_everything(tmp_path):
    chatty = "print('status p1 working | n=3'); print('hello'); import time; time.sleep(60)"
    runner = launcher.Launcher(tmp_path)
    program = runner.start("p1", [sys.executable, "-c", chatty])
    failing = runner.start("p2", [sys.executable, "-c", "import sys; print('bad'); sys.exit(3)"])
    deadline = time.monotonic() + 30
    while runner.status("p1")[0] != "working" or failing.running:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert runner.status("p1") == ("working", {"n": 3})
    assert [f.name for f in runner.failures()] == ["p2"]
    runner.stop_all()
    assert not program.running and runner.running() == []
    assert program.returncode == -signal.SIGTERM
    assert [f.name for f in runner.failures()] == ["p2"]  # stopped on purpose is no failure
    time.sleep(0.2)
    assert "hello" in (tmp_path / "logs" / "p1.log").read_text()


def test_programs_die_with_a_launcher_killed_by_sigkill(tmp_path):
    # A launcher in a child process starts a long sleep, prints its pid and waits; killing
    # that launcher with SIGKILL (no clean-up code runs) must take the sleep with it.
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from utils.infra.launcher import Launcher
        program = Launcher({str(tmp_path)!r}).start("sleeper", ["sleep", "60"])
        print(program.process.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the program outlived its launcher"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


# --- the programs' one-line failures ------------------------------------------------------


@pytest.mark.parametrize("address", ["nonsense", "localhost:99999", "localhost:"])
def test_an_address_that_does_not_parse_ends_a_role_with_one_line_and_exit_2(address):
    result = run([*ROLE, "--role", "actor", "--server", address])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "is not a server address" in result.stderr


def test_a_port_in_use_ends_the_server_and_the_launcher_with_one_line_and_exit_2():
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for argv in (
            [*ROLE, "--role", "server", "--port", str(port)],
            [*LAUNCH, "--port", str(port)],
        ):
            result = run(argv)
            assert result.returncode == 2, result.stderr
            assert result.stderr.count("\n") == 1
            assert f"port {port} is already in use" in result.stderr


def test_an_unreachable_server_is_retried_then_named_in_one_line_and_exit_1():
    port = distributed.free_port()  # nothing listens there
    start = time.monotonic()
    result = run([*ROLE, "--role", "learner", "--server", f"localhost:{port}", "--wait", "3"])
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"no Reverb server answered at localhost:{port} within 3 s" in result.stderr
    assert "status learner waiting" in result.stdout  # it said so while it retried
    assert time.monotonic() - start < 60


def test_ctrl_c_stops_the_launcher_and_every_role_it_started(tmp_path):
    port = distributed.free_port()
    argv = [*LAUNCH, "--folder", str(tmp_path), "--port", str(port)]
    launch = subprocess.Popen(argv, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        learner_log = tmp_path / "logs" / "learner.log"
        while not (learner_log.exists() and "status learner" in learner_log.read_text()):
            assert time.monotonic() < deadline and launch.poll() is None
            time.sleep(0.2)
        roles = _roles_on(port)
        assert len(roles) == 5, roles  # server, two actors, learner, evaluator
        launch.send_signal(signal.SIGINT)
        assert launch.wait(timeout=60) == 130
    finally:
        launch.kill()
        launch.wait()
    assert _roles_on(port) == []


def _roles_on(port: int) -> list[str]:
    """Command lines of running role programs (not zombies) for the server on ``port``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        mine = f"={port} " in command + " " or f":{port} " in command + " "
        if "distributed_dqn.py" in command and mine and _alive(int(entry.name)):
            found.append(command)
    return found


def test_launcher_refuses_zero_actors():
    result = run([*LAUNCH, "--actors", "0"])
    assert result.returncode == 2 and "--actors must be 1 or more" in result.stderr


# --- the pieces in one process ------------------------------------------------------------


def test_the_pieces_move_transitions_and_weights_through_a_real_server():
    reverb = pytest.importorskip("reverb")
    import tensorflow as tf

    from tests.dqn_tiny import TINY as settings
    from utils.agents import dqn

    env = dqn.make_env(settings, seed=0)
    learner_agent, actor_agent = dqn.build_agent(settings, env), dqn.build_agent(settings, env)
    server = reverb.Server(distributed.make_tables(learner_agent, settings, 0), port=None)
    address = f"localhost:{server.port}"
    try:
        container = distributed.variable_container(address)
        container.push(distributed.published(learner_agent))
        actor = _actor_parts(actor_agent, env, address, settings)
        time_step = env.reset()
        while (
            distributed.table_counts(reverb.Client(address))["size"]
            < settings.initial_collect_steps
        ):
            time_step = distributed.act(*actor, distributed.published(actor_agent), time_step)
        from tf_agents.replay_buffers import reverb_replay_buffer

        buffer = reverb_replay_buffer.ReverbReplayBuffer(
            learner_agent.collect_data_spec, distributed.REPLAY_TABLE, 2, server_address=address
        )
        samples = iter(buffer.as_dataset(settings.sample_size, num_steps=2))
        train_step = dqn.make_train_step(learner_agent, settings)
        losses = distributed.learn(samples, train_step, settings, container, learner_agent)
        assert len(losses) == settings.train_steps_per_iteration
        # The actor's next round starts from the learner's weights and train step.
        distributed.act(*actor, distributed.published(actor_agent), time_step)
        assert int(actor_agent.train_step_counter) == settings.train_steps_per_iteration
        for mine, theirs in zip(
            actor_agent.policy.variables(), learner_agent.policy.variables(), strict=True
        ):
            tf.debugging.assert_equal(mine, theirs)
    finally:
        server.stop()


def _actor_parts(agent, env, address, settings):
    import reverb
    from tf_agents.drivers import py_driver
    from tf_agents.policies import py_tf_eager_policy
    from tf_agents.replay_buffers import reverb_utils

    observer = reverb_utils.ReverbAddTrajectoryObserver(
        reverb.Client(address), distributed.REPLAY_TABLE, sequence_length=2, stride_length=1
    )
    policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True)
    driver = py_driver.PyDriver(env, policy, [observer], max_steps=64)
    return driver, observer, distributed.variable_container(address)


# --- across machines: network namespaces --------------------------------------------------


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def namespaces():
    """Three namespaces: the server's, joined by its own veth pair to each of the others'.

    Yields ``{"server": (ns, {peer: address seen from peer})}``-like dict: for each client
    namespace, its name and the server's address on their link. Everything it made is
    removed afterwards, also when the test fails.
    """
    reverb = pytest.importorskip("reverb")  # noqa: F841 - the roles need it
    tag = f"{os.getpid() % 100000}"
    server_ns = f"rlc-{tag}-srv"
    made: list[str] = []
    try:
        try:
            _ip("netns", "add", server_ns)
        except (OSError, subprocess.CalledProcessError) as error:
            reason = getattr(error, "stderr", "") or error
            pytest.skip(f"cannot make network namespaces here (root and iproute2 needed): {reason}")
        made.append(server_ns)
        _ip("-n", server_ns, "link", "set", "lo", "up")
        links = {}
        for number, role in enumerate(("learner", "actor"), start=1):
            ns = f"rlc-{tag}-{role}"
            _ip("netns", "add", ns)
            made.append(ns)
            here, there = f"rv{tag}s{number}", f"rv{tag}c{number}"
            _ip("link", "add", here, "type", "veth", "peer", "name", there)
            _ip("link", "set", here, "netns", server_ns)
            _ip("link", "set", there, "netns", ns)
            server_ip, client_ip = f"10.231.{number}.1", f"10.231.{number}.2"
            _ip("-n", server_ns, "addr", "add", f"{server_ip}/30", "dev", here)
            _ip("-n", ns, "addr", "add", f"{client_ip}/30", "dev", there)
            _ip("-n", server_ns, "link", "set", here, "up")
            _ip("-n", ns, "link", "set", there, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            links[role] = (ns, server_ip)
        yield server_ns, links
    finally:
        for ns in made:  # deleting a namespace deletes the veth ends inside it, and the pair
            _ip("netns", "delete", ns, check=False)
        left = _ip("netns", "list").stdout
        assert not any(ns in left for ns in made), left


def test_roles_in_separate_network_namespaces_work_through_the_given_addresses(
    namespaces, tmp_path
):
    server_ns, links = namespaces
    port = 8000
    (learner_ns, learner_sees), (actor_ns, actor_sees) = links["learner"], links["actor"]
    # The actor's namespace has no server of its own: localhost there answers nothing.
    probe = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)"
    runner = launcher.Launcher(tmp_path)
    try:
        runner.start("server", [*ROLE, "--role", "server", f"--port={port}"], prefix=_in(server_ns))
        actor = [*ROLE, "--role", "actor", f"--server={actor_sees}:{port}", "--wait=120"]
        runner.start("actor-0", actor, prefix=_in(actor_ns))
        learner = [*ROLE, "--role", "learner", f"--server={learner_sees}:{port}", "--wait=120"]
        runner.start("learner", [*learner, "--max-train-steps=1024"], prefix=_in(learner_ns))
        deadline = time.monotonic() + 240
        while runner.status("actor-0")[1].get("train_step", 0) < 256:
            assert not runner.failures(), _tails(runner)
            assert time.monotonic() < deadline, _tails(runner)
            time.sleep(0.5)
        reached = subprocess.run(
            ["ip", "netns", "exec", actor_ns, sys.executable, "-c", probe, "127.0.0.1", str(port)],
            capture_output=True,
            text=True,
        )
        assert reached.returncode != 0, "a server answered on the actor's own localhost"
    finally:
        runner.stop_all()
    # The learner trained on what the actor wrote, and its weights reached the actor.
    _, learner_state = runner.status("learner")
    assert learner_state["train_step"] >= 256 and learner_state["inserted"] > 1000
    assert runner.status("actor-0")[1]["env_steps"] > 1000


def _in(ns: str) -> list[str]:
    return ["ip", "netns", "exec", ns]


def _tails(runner: launcher.Launcher) -> str:
    return "\n".join(f"{n}: {list(p.tail)[-5:]}" for n, p in runner.programs.items())
