"""`make run`: everything the product needs, in one process, on 127.0.0.1:8000.

1. Apply the `local` stage's environment from .chalice/config.json, as Chalice does.
2. Start the embedded DynamoDB unless AWS_ENDPOINT_URL_DYNAMODB names another one: the
   app reaches it in process, other processes over HTTP at the URL logged at start.
3. Create missing tables from the PynamoDB models; seed the demo unless ONCALL_DEMO=0.
4. Run the escalation sweep and the notification deliverer on timers (chalice local
   runs no scheduled or stream functions).
5. Serve the Chalice app (API and console) until Ctrl-C or SIGTERM.
"""

import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    ForbiddenError,
    LocalChalice,
    LocalDevServer,
    RouteMatcher,
    ThreadedHTTPServer,
)

PROJECT = Path(__file__).resolve().parent.parent
STAGE = "local"

log = logging.getLogger("oncall.local")


def apply_stage_environment() -> dict:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    stage_env = {**config.get("environment_variables", {}), **config["stages"][STAGE].get("environment_variables", {})}
    for name, value in stage_env.items():
        os.environ.setdefault(name, value)
    return config


class FastRequestHandler(ChaliceRequestHandler):
    # The handler writes headers and body separately; without TCP_NODELAY a
    # keep-alive client waits out the peer's delayed ACK (~40 ms) every request.
    disable_nagle_algorithm = True
    # The app's routes as declared, set once the app is imported (main).
    routes: RouteMatcher | None = None

    def log_request(self, code="-", size="-") -> None:
        # The route as declared, as the deployed access log records it (infra/stack.py),
        # never the requested path: a heartbeat's ping URL, a calendar feed and a page's
        # signed link carry their secret in it.
        try:
            route = self.routes.match_route(getattr(self, "path", "")).route if self.routes else "-"
        except ValueError:
            route = "(no route)"
        self.log_message('"%s %s" %s %s', self.command, route, code, size)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server answers what never reaches the app (a method it has no handler
        # for, a malformed request line) with an HTML page; answer JSON like the app.
        if code == 501:  # a method no route takes, e.g. TRACE
            code, error_code = 405, "method_not_allowed"
        else:
            error_code = "bad_request"
        body = json.dumps({"error": message or self.responses.get(code, ("Error",))[0], "code": error_code}).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def _send_error_response(self, error) -> None:
        # Chalice's gateway answers a path no route matches as API Gateway does, a
        # 403 "Missing Authentication Token"; the deployed API maps that to a JSON
        # 404 (infra/stack.py), and so does this. The app defines no authorizer,
        # so routing is the only source of these 403s.
        if isinstance(error, ForbiddenError):
            body = json.dumps({"error": "There is no such path or method.", "code": "not_found"}).encode()
            self._send_http_response(404, {"Content-Type": "application/json"}, body)
            return
        super()._send_error_response(error)


class BacklogServer(ThreadedHTTPServer):
    # The default listen backlog of 5 drops connections when dozens of clients connect at once.
    request_queue_size = 256
    allow_reuse_address = True


class Timer(threading.Thread):
    """Runs `job` every `interval` seconds, as the scheduled Lambda functions do in AWS."""

    def __init__(self, name: str, interval: float, job, worth_logging) -> None:
        super().__init__(name=name, daemon=True)
        self._interval = interval
        self._job = job
        self._worth_logging = worth_logging
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self._interval):
            try:
                result = self._job()
                if self._worth_logging(result):
                    log.info("%s: %s", self.name, result)
            except Exception:
                log.exception("%s failed; trying again next interval", self.name)


def _exit_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent (e.g. `make run`) dies, so killing
    make does not leave the server and its DynamoDB behind."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def provide_admin_key(token: str | None, fresh: bool) -> bool:
    """ONCALL_ADMIN_KEY becomes an admin key; unset, a new admin key is made and
    printed once (on fresh tables; existing tables keep the keys they have). Either
    way one line says which key to use; it never shows any of ONCALL_ADMIN_KEY.

    These lines are printed, not logged: importing the app gives the "oncall"
    loggers Chalice's level, ERROR, so an INFO line from here would not show."""
    from chalicelib.api.payloads import KeyBody
    from chalicelib.apikey import keys

    body = KeyBody(name="local admin", role="admin", user="admin")
    if token:
        if not keys.USABLE_TOKEN.fullmatch(token):
            print(
                "ONCALL_ADMIN_KEY must be 16 to 256 printable characters without spaces.",
                file=sys.stderr,
            )
            return False
        # A key the tables already had keeps its role and state: say which.
        keys.ensure(body, token, created_by="make run")
        grant = keys.find(token)
        if grant is None:
            print("ONCALL_ADMIN_KEY is a revoked key of these tables: requests with it answer 401.", file=sys.stderr)
        else:
            bound = f"user {grant.user}" if grant.user else f"services {', '.join(sorted(grant.services or ()))}"
            print(f"the {grant.role} key from ONCALL_ADMIN_KEY is active ({bound})", flush=True)
    elif fresh:
        token = keys.create(body, "make run")["token"]
        print(f"admin API key (shown once; set ONCALL_ADMIN_KEY to choose your own): {token}", flush=True)
    else:
        print(
            "the tables existed, so no admin key was made: use a key you have, set ONCALL_ADMIN_KEY, "
            "or run python -m oncall_admin create-key --stage local --role admin --user you --name you",
            flush=True,
        )
    return True


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("werkzeug", "pynamodb", "botocore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    if not _port_is_free(host, port):
        print(f"Port {port} on {host} is in use; set PORT to another port.", file=sys.stderr)
        return 1
    config = apply_stage_environment()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # Notifications link to the incident in this console.
    os.environ.setdefault("ONCALL_CONSOLE_URL", f"http://{host}:{port}")
    # As a warm Lambda does: not a GetItem per request for the same key. This one process
    # forgets its keys when one is revoked through it; a key revoked by another process
    # (oncall_admin on the tables) stops within the minute.
    os.environ.setdefault("ONCALL_KEY_CACHE_SECONDS", "60")
    # Locally, webhooks usually go to receivers on this machine or its network.
    os.environ.setdefault("ONCALL_ALLOW_PRIVATE_WEBHOOKS", "1")

    emulator = None
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        from oncall_local.emulator import Emulator, serve_this_process

        emulator = Emulator().start()
        # The app's own requests reach the same moto without HTTP; other processes use the endpoint.
        serve_this_process(os.environ["AWS_DEFAULT_REGION"])
        log.info("embedded DynamoDB at %s (in memory: data lasts until the server stops)", emulator.endpoint)
        # SMS and email go to the same emulator, and the console shows them (Sent messages).
        from oncall_local import messages

        os.environ.setdefault("ONCALL_EMAIL_FROM", "oncall@example.com")
        messages.route_to(os.environ["ONCALL_EMAIL_FROM"])
    else:
        log.info("using DynamoDB at %s", os.environ["AWS_ENDPOINT_URL_DYNAMODB"])

    sys.path.insert(0, str(PROJECT))
    from app import app
    from chalicelib import db
    from chalicelib.config import settings
    from chalicelib.escalation import sweep
    from chalicelib.heartbeat import overdue
    from chalicelib.models import ALL_MODELS, Incident
    from chalicelib.notify import delivery, shift_notices
    from oncall_local import demo

    created = db.create_tables(ALL_MODELS)
    if created:
        log.info("created tables %s", ", ".join(created))
    fresh = Incident.Meta.table_name in created
    if fresh and os.environ.get("ONCALL_DEMO", "1") != "0":
        demo.seed()
    if not provide_admin_key(settings().admin_key, fresh):
        return 1

    chalice_config = Config.create(
        chalice_stage=STAGE, app_name=config["app_name"], project_dir=str(PROJECT), config_from_disk=config
    )
    # What chalice.local.create_local_server does before serving: give the app a
    # thread-local current_request, so concurrent requests do not see each other's.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    FastRequestHandler.routes = RouteMatcher(list(app.routes))
    server = LocalDevServer(app, chalice_config, host, port, handler_cls=FastRequestHandler, server_cls=BacklogServer)
    # In AWS the incidents table's stream wakes the deliverer; here a short timer does.
    timers = [
        Timer("escalation-sweep", settings().sweep_interval_seconds, sweep.run, lambda r: r["escalated"]),
        Timer("heartbeats", settings().sweep_interval_seconds, overdue.run, lambda r: r["fired"]),
        Timer("notifications", settings().deliver_interval_seconds, delivery.run, lambda r: r["attempted"]),
        Timer("on-call-notices", 60, shift_notices.run, lambda r: r["noticed"]),
    ]
    for timer in timers:
        timer.start()

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _exit_with_parent()
    print(f"oncall is serving on http://{host}:{port} (API under /api/, console at /)", flush=True)
    try:
        # A stop is noticed within a tenth of a second (the default poll is half a second).
        server.server.serve_forever(poll_interval=0.1)
    finally:
        for timer in timers:
            timer.stopped.set()
        server.server.server_close()
        if emulator:
            emulator.stop()
        print("oncall stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
