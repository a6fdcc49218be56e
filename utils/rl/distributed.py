"""Actors and a learner around a Reverb server: the roles of a distributed off-policy agent.

Taught in notebook 12. Four roles, each a program of its own (``scripts/distributed_dqn.py
--role ...``), joined only by the server's ``host:port`` address:

- the **server** hosts two Reverb tables: ``replay`` (transitions, written by the actors and
  sampled by the learner) and ``variables`` (the learner's latest weights and train step, one
  item, read by the actors and the evaluator);
- each **actor** pulls the latest weights every so many environment steps, plays with its own
  environment and seed, and writes every transition into ``replay``;
- the **learner** draws from ``replay``, trains, publishes its weights after every round and
  saves checkpoints (notebook 11's ``Checkpoints``) and TensorBoard summaries;
- the **evaluator** pulls weights, plays greedy episodes and decides "solved".

The roles know nothing of one another's machines. :class:`Cluster` starts them all on this
machine through a ``Launcher`` and shows one live status line. The algorithm itself (which
agent, its environment and train step) comes in a :class:`Recipe`, so that this module stays
free of any one agent: ``scripts/distributed_dqn.py`` gives it notebook 03's DQN.
"""

from __future__ import annotations

import math
import re
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.infra.launcher import Launcher, LiveLine, status_line
from utils.infra.runtime import LazyModule
from utils.rl import evaluation
from utils.rl.checkpoints import Checkpoints, Parts, RunSaver
from utils.rl.training import History, SolveCheck, gym_checks

tf = LazyModule("tensorflow")

REPLAY_TABLE = "replay"
VARIABLE_TABLE = "variables"  # the name TF-Agents' ReverbVariableContainer expects
TRAIN_STEP_KEY = "train_step"  # ... and the two keys of what it stores
POLICY_KEY = "policy_variables"
STATUS_EVERY = 1.0  # seconds between a role's status lines


class AddressError(ValueError):
    """An address that does not parse, or a port that cannot be used (exit code 2)."""


class ServerUnreachable(RuntimeError):
    """No Reverb server answered at the address within the time allowed (exit code 1)."""


class ReverbMissing(ImportError):
    """Reverb cannot be imported here (exit code 1)."""


@dataclass(frozen=True)
class Recipe:
    """What the roles need to know about the agent they run, e.g. notebook 03's DQN.

    ``make_env(settings, seed)`` returns a Python environment; ``build_agent(settings, env)``
    a TF-Agents agent; ``make_train_step(agent, settings)`` a function ``(sample, k) -> loss``
    that trains on the k-th minibatch of one draw of ``settings.sample_size`` transitions.
    """

    settings: Any
    make_env: Callable
    build_agent: Callable
    make_train_step: Callable


# --- addresses and connections -----------------------------------------------------------

_ADDRESS = re.compile(
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]*)):(?P<port>\d+)"
)


def parse_address(text: str) -> tuple[str, int]:
    """``"host:port"`` (or ``"[ipv6]:port"``) as ``(host, port)``; AddressError if it is not one."""
    found = _ADDRESS.fullmatch(text.strip())
    port = int(found["port"]) if found else 0
    if not found or not 1 <= port <= 65535:
        raise AddressError(
            f"{text!r} is not a server address: give host:port with a port from 1 to 65535, "
            "e.g. localhost:8000 or 10.0.0.2:8000."
        )
    return found["v6"] or found["host"], port


def check_port(port: int) -> int:
    """``port`` if a server can listen on it (0: any free port); else AddressError."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise AddressError(f"port must be a whole number from 0 to 65535, got {port!r}.")
    if port == 0:
        return port
    for family, host in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # As a server would: connections of a stopped server (TIME_WAIT) do not count.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
            return port
        except OSError as error:
            if error.errno == 98:  # EADDRINUSE
                raise AddressError(
                    f"port {port} is already in use: stop what listens there, or choose "
                    "another port (--port 0 picks a free one)."
                ) from None
    return port  # neither family could be tried; let the server report its own error


def free_port() -> int:
    """A port no program listens on right now."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def import_reverb():
    """Reverb, or an ImportError that says where it runs (its wheels stop at Python 3.11)."""
    try:
        import reverb
    except ImportError as error:
        raise ReverbMissing(
            "the distributed roles need dm-reverb, which installs only with Python 3.11 on "
            "Linux: use the course's pinned environment (make venv) or its Docker image."
        ) from error
    return reverb


def wait_for_server(address: str, wait_s: float, name: str, say: Callable = print):
    """A Reverb client for ``address`` once its server answers; retried for ``wait_s`` seconds.

    Prints a status line while it waits; raises ServerUnreachable naming the address if no
    server answers in time.
    """
    reverb = import_reverb()
    parse_address(address)
    start, attempt = time.monotonic(), 0
    while True:
        client = reverb.Client(address)
        try:
            client.server_info(timeout=2)
            return client
        except Exception:  # Reverb raises several kinds; all mean "not yet"
            waited = time.monotonic() - start
            if waited >= wait_s:
                raise ServerUnreachable(
                    f"no Reverb server answered at {address} within {wait_s:.0f} s: start the "
                    "server role first, or check the address and the network between them."
                ) from None
            attempt += 1
            say(status_line(name, "waiting", server=address, seconds=round(waited)))
            time.sleep(min(1.0, max(0.0, wait_s - waited)))


def server_reachable(address: str) -> bool:
    """True if a Reverb server answers at ``address`` within two seconds."""
    try:
        import_reverb().Client(address).server_info(timeout=2)
        return True
    except Exception:
        return False


def table_counts(client) -> dict[str, int]:
    """The replay table's size now, and the items inserted into it and sampled from it so far."""
    info = client.server_info(timeout=5)[REPLAY_TABLE]
    stats = info.rate_limiter_info
    return {
        "size": int(info.current_size),
        "inserted": int(stats.insert_stats.completed),
        "sampled": int(stats.sample_stats.completed),
    }


# BEGIN generated from notebooks/12_distributed.ipynb, its cells marked #@save.
# Edit those cells, not this block, then run `make export`.


def published(agent):
    """What the learner publishes: its train step (ε follows it) and the policy's weights."""
    return {TRAIN_STEP_KEY: agent.train_step_counter, POLICY_KEY: agent.policy.variables()}


def rate_limiter(settings, samples_per_insert):
    """When the learner may draw and the actors may write (Reverb's rate limiter).

    Sampling starts once ``initial_collect_steps`` transitions are in. With
    ``samples_per_insert`` > 0, the learner draws about that many transitions per transition
    written: whichever side gets two draws ahead of that ratio waits for the other.
    """
    reverb = import_reverb()
    start = settings.initial_collect_steps
    if not samples_per_insert:
        return reverb.rate_limiters.MinSize(start)  # no tie: each side runs as fast as it can
    return reverb.rate_limiters.SampleToInsertRatio(
        samples_per_insert, start, error_buffer=2 * settings.sample_size
    )


def make_tables(agent, settings, samples_per_insert):
    """The server's two tables: transitions for the learner, the latest weights for the actors."""
    reverb = import_reverb()
    from tf_agents.specs import tensor_spec

    # An item is two consecutive steps (a transition), as in notebook 03.
    signature = tensor_spec.add_outer_dim(tensor_spec.from_spec(agent.collect_data_spec), 2)
    replay = reverb.Table(
        REPLAY_TABLE,
        max_size=settings.replay_capacity,
        sampler=reverb.selectors.Uniform(),  # every transition equally likely to be drawn
        remover=reverb.selectors.Fifo(),  # when full, the oldest goes first
        rate_limiter=rate_limiter(settings, samples_per_insert),
        signature=signature,
    )
    # One item: the newest weights replace the old (max_size=1); reading never removes it.
    weights = tf.nest.map_structure(lambda v: tf.TensorSpec(v.shape, v.dtype), published(agent))
    variables = reverb.Table(
        VARIABLE_TABLE,
        max_size=1,
        sampler=reverb.selectors.Uniform(),
        remover=reverb.selectors.Fifo(),
        rate_limiter=reverb.rate_limiters.MinSize(1),  # reading waits for the first weights
        signature=weights,
    )
    return [replay, variables]


def act(driver, observer, container, variables, time_step):
    """One round of an actor: take the learner's newest weights, then play and write."""
    container.update(variables)  # train step and weights, as the learner last published them
    time_step, _ = driver.run(time_step)  # its observer writes every transition into `replay`
    observer.flush()  # wait until the server holds them (it makes an actor that is ahead wait)
    return time_step


def learn(samples, train_step, settings, container, agent):
    """One round of the learner: one draw, its train steps, then publish the new weights."""
    sample, _ = next(samples)  # waits while the rate limiter says the actors are behind
    losses = [train_step(sample, k) for k in range(settings.train_steps_per_iteration)]
    container.push(published(agent))  # actors and the evaluator pull these
    return losses


# END generated from notebooks/12_distributed.ipynb


def variable_container(address: str):
    """TF-Agents' client for the ``variables`` table at ``address``."""
    from tf_agents.experimental.distributed import reverb_variable_container

    return reverb_variable_container.ReverbVariableContainer(address, [VARIABLE_TABLE])


class EpisodeReturns:
    """An observer that adds up rewards: environment steps and the returns of recent episodes."""

    def __init__(self, keep: int = 20) -> None:
        self.current, self.steps = 0.0, 0
        self.returns: deque[float] = deque(maxlen=keep)

    def __call__(self, trajectory) -> None:
        if trajectory.is_boundary():  # the step from an episode's end to the next start
            return
        self.steps += 1
        self.current += float(trajectory.reward)
        if trajectory.is_last():
            self.returns.append(self.current)
            self.current = 0.0

    @property
    def mean(self) -> float:
        return sum(self.returns) / len(self.returns) if self.returns else float("nan")


class _Every:
    """True once every ``seconds`` (for status lines); ``rate(count)``: per second, recent."""

    def __init__(self, seconds: float, window: float = 5.0) -> None:
        self.seconds, self.last = seconds, time.monotonic()
        self.window, self.counts = window, deque([(self.last, 0)])

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.seconds:
            self.last = now
            return True
        return False

    def rate(self, count: int) -> float:
        """How fast ``count`` grew over the last ``window`` seconds (per second)."""
        now = time.monotonic()
        self.counts.append((now, count))
        while len(self.counts) > 2 and now - self.counts[1][0] >= self.window:
            self.counts.popleft()
        then, before = self.counts[0]
        return (count - before) / (now - then) if now > then else 0.0


def _never() -> bool:
    return False


# --- the four roles --------------------------------------------------------------------


def run_server(
    recipe: Recipe,
    *,
    port: int = 0,
    folder: str | Path | None = None,
    samples_per_insert: float = 0.0,
    checkpoint_every_s: float = 0.0,
    say: Callable = print,
    stop: Callable[[], bool] = _never,
) -> None:
    """Host the two tables on ``port`` until ``stop()``; save them to ``folder`` every so often.

    A server started on a ``folder`` that holds a saved table loads it. The variables table
    starts with the untrained agent's weights, so actors can play before the learner is up.
    """
    check_port(port)
    reverb = import_reverb()
    settings = recipe.settings
    agent = recipe.build_agent(settings, recipe.make_env(settings, None))
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="reverb-server-"))
    checkpointer = reverb.checkpointers.DefaultCheckpointer(str(folder))
    try:
        server = reverb.Server(
            make_tables(agent, settings, samples_per_insert), port or None, checkpointer
        )
    except ValueError as error:  # gRPC could not listen there (a race with check_port)
        raise AddressError(f"the server cannot listen on port {port}: {error}.") from None
    address = f"localhost:{server.port}"
    client = reverb.Client(address)
    if client.server_info()[VARIABLE_TABLE].current_size == 0:
        variable_container(address).push(published(agent))
    say(status_line("server", "serving", port=server.port, folder=folder))
    every, saved = _Every(STATUS_EVERY), time.monotonic()
    try:
        while not stop():
            time.sleep(0.2)
            if checkpoint_every_s and time.monotonic() - saved >= checkpoint_every_s:
                client.checkpoint()
                saved = time.monotonic()
            if every():
                counts = table_counts(client)
                rate = every.rate(counts["inserted"])
                say(status_line("server", "serving", **counts, inserts_per_s=rate))
    finally:
        server.stop()


def _reconnect(error: Exception, address: str, wait_s: float, name: str, say: Callable):
    """After an error talking to the server: re-raise it if the server is up, else wait for it."""
    if server_reachable(address):
        raise error
    say(status_line(name, "lost-server", server=address))
    return wait_for_server(address, wait_s, name, say)


def run_actor(
    recipe: Recipe,
    *,
    address: str,
    index: int = 0,
    seed: int | None = None,
    pull_every: int | None = None,
    wait_s: float = 60.0,
    max_env_steps: int | None = None,
    say: Callable = print,
    stop: Callable[[], bool] = _never,
) -> int:
    """Play and write into ``replay`` until ``stop()`` (or ``max_env_steps``); return the steps.

    Pulls the weights every ``pull_every`` steps (default: the settings' collect steps per
    iteration). If the server goes away, waits up to ``wait_s`` seconds for it to come back.
    """
    from tf_agents.drivers import py_driver
    from tf_agents.policies import py_tf_eager_policy
    from tf_agents.replay_buffers import reverb_utils

    name, settings = f"actor-{index}", recipe.settings
    seed = 1000 + index if seed is None else seed
    client = wait_for_server(address, wait_s, name, say)
    env = recipe.make_env(settings, seed)
    agent = recipe.build_agent(settings, env)
    variables = published(agent)
    policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True)
    returns = EpisodeReturns()
    steps = pull_every or settings.collect_steps_per_iteration

    def connect(client):
        observer = reverb_utils.ReverbAddTrajectoryObserver(
            client, REPLAY_TABLE, sequence_length=2, stride_length=1
        )
        driver = py_driver.PyDriver(env, policy, [observer, returns], max_steps=steps)
        return observer, driver, variable_container(address)

    observer, driver, container = connect(client)
    time_step, every = env.reset(), _Every(STATUS_EVERY)
    say(status_line(name, "collecting", server=address, seed=seed))
    while not stop() and (max_env_steps is None or returns.steps < max_env_steps):
        try:
            time_step = act(driver, observer, container, variables, time_step)
        except Exception as error:  # sorted out by _reconnect
            client = _reconnect(error, address, wait_s, name, say)
            observer, driver, container = connect(client)
            time_step = env.reset()
        if every():
            rate = every.rate(returns.steps)
            say(
                status_line(
                    name,
                    "collecting",
                    env_steps=returns.steps,
                    env_steps_per_s=rate,
                    train_step=int(agent.train_step_counter.numpy()),
                    epsilon=float(agent.collect_policy._get_epsilon()),  # TF-Agents: private
                    episode_return=returns.mean,
                )
            )
    observer.close()
    return returns.steps


def learner_identity(recipe: Recipe, agent) -> dict:
    """What a learner's checkpoint must match to be resumed (notebook 11)."""
    settings = recipe.settings
    return {
        "trainer": "distributed_learner",
        "env_name": settings.env_name,
        "observation_shape": list(agent.time_step_spec.observation.shape),
        "hidden_layers": list(getattr(settings, "hidden_layers", ())),
    }


def run_learner(
    recipe: Recipe,
    *,
    address: str,
    checkpoints: str | Path | None = None,
    checkpoint_every: int = 1000,
    logdir: str | Path | None = None,
    max_train_steps: int | None = None,
    wait_s: float = 60.0,
    say: Callable = print,
    stop: Callable[[], bool] = _never,
) -> int:
    """Train from ``replay`` and publish the weights after every round; return the train steps.

    With ``checkpoints`` (a folder), continues from its newest checkpoint and saves every
    ``checkpoint_every`` train steps and at the end. ``logdir``: TensorBoard summaries.
    Stops at ``max_train_steps`` (default: the settings' iterations x train steps).
    """
    from tf_agents.replay_buffers import reverb_replay_buffer
    from tf_agents.specs import tensor_spec

    settings = recipe.settings
    client = wait_for_server(address, wait_s, "learner", say)
    agent = recipe.build_agent(settings, recipe.make_env(settings, None))
    history = History(label="learner")
    folder = Checkpoints(checkpoints, every=checkpoint_every, log=None) if checkpoints else None
    parts = Parts(tf={"agent": agent})
    saver = RunSaver(
        folder, parts, identity=learner_identity(recipe, agent), settings=settings, history=history
    )
    if saver.resume():
        say(status_line("learner", "resumed", train_step=int(agent.train_step_counter.numpy())))
    budget = max_train_steps or settings.num_iterations * settings.train_steps_per_iteration
    train_step = recipe.make_train_step(agent, settings)
    writer = (
        tf.summary.create_file_writer(str(logdir)) if logdir else tf.summary.create_noop_writer()
    )

    def connect():
        container = variable_container(address)
        container.push(published(agent))  # the actors play with these until the next round
        buffer = reverb_replay_buffer.ReverbReplayBuffer(
            tensor_spec.from_spec(agent.collect_data_spec),
            table_name=REPLAY_TABLE,
            sequence_length=2,
            server_address=address,
            dataset_buffer_size=8,
        )
        dataset = buffer.as_dataset(settings.sample_size, num_steps=2).prefetch(1)
        return container, iter(dataset)

    container, samples = connect()
    say(status_line("learner", "waiting-for-data", needs=settings.initial_collect_steps))
    iteration, every = saver.iteration, _Every(STATUS_EVERY)
    steps = int(agent.train_step_counter.numpy())
    counts, loss = table_counts(client), math.nan
    every.counts = deque([(time.monotonic(), steps)])
    while steps < budget and not stop():
        try:
            losses = learn(samples, train_step, settings, container, agent)
        except Exception as error:  # sorted out by _reconnect
            client = _reconnect(error, address, wait_s, "learner", say)
            container, samples = connect()
            continue
        iteration += 1
        steps = int(agent.train_step_counter.numpy())
        loss = history.record_loss(steps, tf.reduce_max(losses))
        with writer.as_default():
            tf.summary.scalar("learner/loss", loss, step=steps)
        if every():
            counts = table_counts(client)
            rate = every.rate(steps)
            with writer.as_default():
                tf.summary.scalar("learner/train_steps_per_second", rate, step=steps)
                tf.summary.scalar("replay/size", counts["size"], step=steps)
            say(
                status_line(
                    "learner",
                    "training",
                    train_step=steps,
                    train_steps_per_s=rate,
                    loss=loss,
                    **counts,
                )
            )
        saver.after_iteration(iteration, counts["inserted"], steps)
    saver.finish(iteration, counts["inserted"], steps)
    writer.flush()
    say(status_line("learner", "finished", train_step=steps))
    return steps


def run_evaluator(
    recipe: Recipe,
    *,
    address: str,
    seed: int = 0,
    eval_every: int | None = None,
    wait_s: float = 60.0,
    logdir: str | Path | None = None,
    say: Callable = print,
    stop: Callable[[], bool] = _never,
) -> History:
    """Check the published policy every ``eval_every`` train steps until it is solved.

    The checks are every trainer's (a quick one, then the full one when the quick one reaches
    the target: ``SolveCheck``). Returns the history once solved (or stopped).
    """
    settings = recipe.settings
    client = wait_for_server(address, wait_s, "evaluator", say)
    agent = recipe.build_agent(settings, recipe.make_env(settings, None))
    variables, container = published(agent), variable_container(address)
    quick, full = gym_checks(settings, evaluation.policy_actions(agent.policy), seed=seed)
    history = History(label="evaluator")
    check = SolveCheck(
        history, quick=quick, full=full, target=settings.target_return, start=time.perf_counter()
    )
    every = eval_every or settings.train_steps_per_iteration
    writer = (
        tf.summary.create_file_writer(str(logdir)) if logdir else tf.summary.create_noop_writer()
    )
    last = -math.inf
    say(status_line("evaluator", "waiting", every=every))
    while not stop():
        try:
            container.update(variables)
            step = int(agent.train_step_counter.numpy())
            if step - last < every:
                time.sleep(0.5)
                continue
            last = step
            written = table_counts(client)["inserted"]
        except Exception as error:  # sorted out by _reconnect
            client = _reconnect(error, address, wait_s, "evaluator", say)
            container = variable_container(address)
            continue
        solved = check(written)
        with writer.as_default():
            tf.summary.scalar("evaluator/return", history.eval_returns[-1], step=step)
        full_mean = history.full_evals[-1][1] if history.full_evals else math.nan
        state = "solved" if solved else "checking"
        say(
            status_line(
                "evaluator",
                state,
                train_step=step,
                transitions=written,
                quick=history.eval_returns[-1],
                full=full_mean,
            )
        )
        if solved:
            break
    writer.flush()
    return history


# --- all roles on this machine -----------------------------------------------------------


class ClusterFailed(RuntimeError):
    """A role ended with an error; the message names it and quotes its last lines."""


class Cluster:
    """A server, actors, a learner and an evaluator started as programs on this machine.

    ``program``: the command that runs one role, given ``--role ...`` and its options
    (``scripts/distributed_dqn.py``). Every program is stopped by :meth:`stop`, on leaving a
    ``with`` block, or when this process ends.
    """

    def __init__(
        self,
        program: list[str],
        folder: str | Path,
        *,
        port: int | None = None,
        samples_per_insert: float | None = None,
        wait_s: float = 60.0,
        options: list[str] | None = None,
    ) -> None:
        self.program, self.folder = list(program), Path(folder)
        self.port = port or free_port()
        self.address = f"localhost:{self.port}"
        self.samples_per_insert, self.wait_s = samples_per_insert, wait_s
        self.options = list(options or [])
        self.launcher = Launcher(self.folder)
        self.started = time.monotonic()

    def _start(self, name: str, role: str, *options: str, prefix=None):
        argv = [*self.program, "--role", role, *options, *self.options]
        return self.launcher.start(name, argv, prefix=prefix)

    def start_server(self, *, checkpoint_every_s: float = 0.0):
        """The Reverb server, saving its tables into ``folder/server`` every so often."""
        ratio = (
            []
            if self.samples_per_insert is None
            else [f"--samples-per-insert={self.samples_per_insert}"]
        )
        return self._start(
            "server",
            "server",
            f"--port={self.port}",
            *ratio,
            f"--folder={self.folder / 'server'}",
            f"--checkpoint-every-s={checkpoint_every_s}",
        )

    def _client_options(self) -> list[str]:
        return [f"--server={self.address}", f"--wait={self.wait_s}"]

    def start_actor(self, index: int, *, seed: int | None = None):
        """Actor ``index`` (seed ``1000 + index`` unless given)."""
        seed_option = [] if seed is None else [f"--seed={seed}"]
        return self._start(
            f"actor-{index}", "actor", *self._client_options(), f"--index={index}", *seed_option
        )

    def start_learner(self, *, checkpoint_every: int = 1000):
        """The learner, with checkpoints in ``folder/learner`` and summaries in ``folder/tb``."""
        return self._start(
            "learner",
            "learner",
            *self._client_options(),
            f"--checkpoints={self.folder / 'learner'}",
            f"--checkpoint-every={checkpoint_every}",
            f"--logdir={self.folder / 'tb' / 'learner'}",
        )

    def start_evaluator(self):
        """The evaluator, with its returns in ``folder/tb/evaluator``."""
        return self._start(
            "evaluator",
            "evaluator",
            *self._client_options(),
            f"--logdir={self.folder / 'tb' / 'evaluator'}",
        )

    def start(self, actors: int = 2, *, evaluator: bool = True) -> Cluster:
        """Server, ``actors`` actors, the learner and (optionally) the evaluator."""
        self.started = time.monotonic()
        self.start_server()
        for index in range(actors):
            self.start_actor(index)
        self.start_learner()
        if evaluator:
            self.start_evaluator()
        return self

    def state(self, name: str) -> tuple[str, dict]:
        """The latest state and values that ``name`` reported."""
        return self.launcher.status(name)

    def line(self) -> str:
        """One line: each actor's steps/s, the learner's, the table, the last evaluation."""
        parts, elapsed = [], time.monotonic() - self.started
        actors = sorted(n for n in self.launcher.programs if n.startswith("actor-"))
        rates = []
        for name in actors:
            state, values = self.state(name)
            running = self.launcher.programs[name].running
            rates.append(
                f"{values.get('env_steps_per_s', 0):.0f}"
                if running and state == "collecting"
                else ("-" if running else "x")
            )
        if actors:
            parts.append("actors " + "/".join(rates) + " steps/s")
        if "learner" in self.launcher.programs:
            state, values = self.state("learner")
            if state == "training":
                rate, step = values.get("train_steps_per_s", 0), values.get("train_step", 0)
                parts.append(f"learner {rate:.0f} steps/s, step {step}")
            else:
                parts.append(f"learner {state}")
        _, server = self.state("server") if "server" in self.launcher.programs else ("", {})
        if "size" in server:
            parts.append(f"table {server['size']:,}")
        if "evaluator" in self.launcher.programs:
            state, values = self.state("evaluator")
            if "quick" in values:
                parts.append(
                    f"eval {values['quick']:.0f} at step {values['train_step']}"
                    + (" solved" if state == "solved" else "")
                )
        return f"{elapsed:4.0f} s | " + " | ".join(parts)

    def check(self) -> None:
        """Raise ClusterFailed if a role ended with an error without being stopped on purpose."""
        failed = self.launcher.failures()
        if failed:
            program = failed[0]
            last = "\n".join(program.tail) or "(no output)"
            raise ClusterFailed(
                f"{program.name} ended with exit code {program.returncode}; its log is "
                f"{program.log}. Its last lines:\n{last}"
            )

    def wait(
        self, until: Callable[[], bool], *, timeout: float, live: LiveLine | None = None
    ) -> bool:
        """Show the live line until ``until()`` (True) or ``timeout`` seconds pass (False)."""
        live = live or LiveLine()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.check()
                live.show(self.line())
                if until():
                    return True
                time.sleep(0.5)
            return False
        finally:
            live.show(self.line(), final=True)

    def solved(self) -> bool:
        """True once the evaluator has reported "solved"."""
        return "evaluator" in self.launcher.programs and self.state("evaluator")[0] == "solved"

    def collecting(self, name: str) -> bool:
        """True once ``name`` has reported at least one rate while collecting."""
        state, values = self.state(name)
        return state == "collecting" and "env_steps_per_s" in values

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` now (no clean-up: as if its machine lost power)."""
        self.launcher.kill(name)

    def stop(self) -> None:
        """Stop every program this cluster started."""
        self.launcher.stop_all()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def role_main(run: Callable[[], object], prog: str = "distributed_dqn.py") -> int:
    """Run one role and turn its known failures into one line and an exit code.

    AddressError: exit 2; ServerUnreachable or ReverbMissing: exit 1; Ctrl-C: exit 130.
    """
    try:
        run()
    except AddressError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except (ServerUnreachable, ReverbMissing) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped (Ctrl-C).", file=sys.stderr)
        return 130
    return 0
