"""The real local server, started as `python -m oncall_local` in a subprocess on a
free loopback port and spoken to over HTTP.

`server` is one demo-free server shared by the whole session; `start_server` is a
factory for tests that need their own settings, the demo, or to stop it themselves.
Every server is stopped with SIGTERM and must exit within STOP_TIMEOUT seconds.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.client import ADMIN_TOKEN

PROJECT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LAUNCH_ATTEMPTS = 3
# The unit-test conftest points the test process at in-process moto with these;
# the server must pick its own stage, tables and DynamoDB, and take `make run`'s
# defaults for the rest.
NOT_INHERITED = (
    "ONCALL_STAGE",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL",
    "HOST",
    "PORT",
    "ONCALL_ALLOW_PRIVATE_WEBHOOKS",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_environment(port: int, demo: bool, extra: dict[str, str]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    env.update(HOST=HOST, PORT=str(port), PYTHONUNBUFFERED="1", ONCALL_ADMIN_KEY=ADMIN_TOKEN)
    if demo:
        env.pop("ONCALL_DEMO", None)
    else:
        env["ONCALL_DEMO"] = "0"
    env.update(extra)
    return env


class LocalServer:
    """One `python -m oncall_local` process; its stdout and stderr go to a file."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oncall_local"],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def dynamodb_endpoint(self) -> str | None:
        """The embedded emulator's URL, as the server logged it at start-up."""
        found = re.search(r"embedded DynamoDB at (http://\S+)", self.output())
        return found.group(1) if found else None

    def wait_until_healthy(self, timeout: float = START_TIMEOUT) -> bool:
        """True once /api/health answers 200; False if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then wait; if the process outlives the timeout, kill it and fail."""
        try:
            if self.running:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
                    raise AssertionError(
                        f"server on port {self.port} ignored SIGTERM for {timeout:.0f} s and was killed; "
                        f"its output ends with:\n{self.tail()}"
                    ) from None
            return self.process.returncode
        finally:
            self._log.close()


def launch(log_dir: Path, *, demo: bool = False, **extra_env: str) -> LocalServer:
    """Start a server and wait for /api/health; fail the test with its output if it never answers."""
    for attempt in range(1, LAUNCH_ATTEMPTS + 1):
        port = free_port()
        log_path = log_dir / f"oncall-{port}-{attempt}.log"
        server = LocalServer(port, server_environment(port, demo, extra_env), log_path)
        if server.wait_until_healthy():
            return server
        exited = not server.running
        if server.running:
            server.process.kill()
            server.process.wait(timeout=5)
        server.stop()
        output = server.output()
        # Another process may have taken the free port between our probe and the server's bind.
        if exited and "is in use" in output and attempt < LAUNCH_ATTEMPTS:
            continue
        state = f"exited with code {server.process.returncode}" if exited else f"no health after {START_TIMEOUT} s"
        pytest.fail(f"oncall server on port {port} did not start ({state}); its output:\n{output}", pytrace=False)
    raise AssertionError("unreachable")


@pytest.fixture(autouse=True)
def tables():
    """The servers bring their own DynamoDB; skip the in-process tables of the unit tests."""
    yield


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The base URL of a server without demo data, shared by the session."""
    local = launch(tmp_path_factory.mktemp("oncall-shared"))
    yield local.url
    local.stop()


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(demo=False, **env) -> LocalServer (use .url). Stopped at teardown."""
    started: list[LocalServer] = []

    def start(*, demo: bool = False, **env: str) -> LocalServer:
        local = launch(tmp_path, demo=demo, **env)
        started.append(local)
        return local

    yield start
    problems = []
    for local in started:
        try:
            local.stop()
        except AssertionError as error:
            problems.append(str(error))
    assert not problems, "\n\n".join(problems)
