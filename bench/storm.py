"""Alert storm against a running oncall server.

    python bench/storm.py --url http://127.0.0.1:8000 --alerts 20 --triggers 500 --clients 32 [--keep-alive] [--rate R]

Fires `triggers` POST /api/incidents/trigger/ requests spread evenly (and shuffled)
over `alerts` distinct titles from `clients` threads, under a service name unique
to the run that first gets a shift (someone on call now) and an escalation level,
then reads the run's incidents back through the list API and reports
what dedup made of the storm. Exits 1 unless exactly one incident per alert was
created, every trigger was counted, and nothing failed.

By default each client sends its next trigger as soon as it has its answer (a closed
loop), so the latency measures how long the server keeps `clients` requests queued: the
mean is clients / throughput. With --rate the triggers are due at a fixed rate whatever
the answers (an open loop, as alerts arrive), and a latency is counted from when its
trigger was due, so one sent late because every client was still waiting counts the wait.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit


class Client:
    """One thread's HTTP client: a new connection per request, or one kept alive."""

    def __init__(self, host: str, port: int, keep_alive: bool, timeout: float, token: str) -> None:
        self.host, self.port, self.keep_alive, self.timeout = host, port, keep_alive, timeout
        self.token = token
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._connection

    def send(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {} if self.keep_alive else {"Connection": "close"}
        headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = self._connect()
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if not self.keep_alive or response.will_close:
                self.close()
            return response.status, data
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fire an alert storm at an oncall server and check dedup.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the server")
    parser.add_argument("--alerts", type=int, default=20, help="distinct alerts (titles)")
    parser.add_argument("--triggers", type=int, default=500, help="trigger requests in total")
    parser.add_argument("--clients", type=int, default=32, help="concurrent client threads")
    parser.add_argument("--service", help="service name (default: a new unique name per run)")
    parser.add_argument("--keep-alive", action="store_true", help="reuse one HTTP connection per client thread")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one response")
    parser.add_argument("--seed", type=int, help="shuffle seed (default: random)")
    parser.add_argument("--rate", type=float, help="triggers due per second (default: each client sends when answered)")
    parser.add_argument(
        "--token",
        default=os.environ.get("ONCALL_API_KEY") or os.environ.get("ONCALL_ADMIN_KEY"),
        help="an admin or responder API key (default: $ONCALL_API_KEY, else $ONCALL_ADMIN_KEY)",
    )
    args = parser.parse_args(argv)
    if args.alerts < 1 or args.triggers < args.alerts or args.clients < 1:
        parser.error("need alerts >= 1, triggers >= alerts and clients >= 1")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be above 0")
    parts = urlsplit(args.url)
    if parts.scheme != "http" or not parts.hostname:
        parser.error("--url must look like http://HOST:PORT")
    if not args.token:
        parser.error("give an API key: --token, or set ONCALL_API_KEY (make run prints an admin key)")
    return args


def storm(args: argparse.Namespace, service: str) -> dict:
    parts = urlsplit(args.url)
    host, port = parts.hostname, parts.port or 80
    titles = [f"storm alert {n % args.alerts:03d}" for n in range(args.triggers)]
    random.Random(args.seed).shuffle(titles)

    local = threading.local()
    clients: list[Client] = []
    clients_lock = threading.Lock()

    def client() -> Client:
        if not hasattr(local, "client"):
            local.client = Client(host, port, args.keep_alive, args.timeout, args.token)
            with clients_lock:
                clients.append(local.client)
        return local.client

    def fire(numbered: tuple[int, str]) -> tuple[str, float, str]:
        number, title = numbered
        if args.rate:
            started = began + number / args.rate
            time.sleep(max(0.0, started - time.perf_counter()))
        else:
            started = time.perf_counter()
        try:
            status, data = client().send(
                "POST", "/api/incidents/trigger/", {"service_name": service, "title": title, "severity": "warning"}
            )
        except (OSError, http.client.HTTPException) as error:
            return "error", time.perf_counter() - started, f"{type(error).__name__}: {error}"
        elapsed = time.perf_counter() - started
        if status in (200, 201):
            return str(status), elapsed, ""
        return "error", elapsed, f"HTTP {status}: {data[:300]!r}"

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        results = list(pool.map(fire, enumerate(titles)))
    wall = time.perf_counter() - began
    for each in clients:
        each.close()

    outcomes = Counter(outcome for outcome, _, _ in results)
    latencies = sorted(elapsed * 1000 for _, elapsed, _ in results)
    return {
        "created": outcomes["201"],
        "duplicates": outcomes["200"],
        "errors": outcomes["error"],
        "error_samples": Counter(detail for outcome, _, detail in results if outcome == "error").most_common(5),
        "seconds": wall,
        "latencies": latencies,
    }


def prepare(args: argparse.Namespace, service: str) -> None:
    """Someone on call for the service now, and a first escalation level: each new
    incident is assigned and has an escalation to schedule."""
    parts = urlsplit(args.url)
    client = Client(parts.hostname, parts.port or 80, False, args.timeout, args.token)
    now = time.time()
    iso = lambda seconds: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))  # noqa: E731
    shift = {
        "service_name": service,
        "user": "storm-oncall",
        "start_time": iso(now - 3600),
        "end_time": iso(now + 86400),
    }
    level = {"service_name": service, "level": 1, "user": "storm-lead"}
    for path, body in (("/api/oncall/schedules/", shift), ("/api/escalation/levels/", level)):
        status, data = client.send("POST", path, body)
        if status != 201:
            raise RuntimeError(f"POST {path} answered HTTP {status}: {data[:300]!r}")


def count_alerts(args: argparse.Namespace, service: str) -> tuple[int, int]:
    """(incidents, sum of alert_count) for the service, read page by page through the list API."""
    parts = urlsplit(args.url)
    client = Client(parts.hostname, parts.port or 80, False, args.timeout, args.token)
    incidents = alerts = 0
    cursor = None
    while True:
        path = f"/api/incidents/list/all/?service_name={quote(service)}&limit=100"
        if cursor:
            path += f"&cursor={quote(cursor)}"
        status, data = client.send("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered HTTP {status}: {data[:300]!r}")
        page = json.loads(data)
        incidents += len(page["incidents"])
        alerts += sum(incident["alert_count"] for incident in page["incidents"])
        cursor = page.get("next_cursor")
        if not cursor:
            return incidents, alerts


def main(argv=None) -> int:
    args = parse_args(argv)
    service = args.service or f"storm-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    mode = "keep-alive" if args.keep_alive else "new connection per request"
    pace = f", {args.rate:g} due per second" if args.rate else ""
    print(f"storm: {args.triggers} triggers of {args.alerts} alerts from {args.clients} clients ({mode}{pace})")
    print(f"server: {args.url}  service: {service}")

    prepare(args, service)
    result = storm(args, service)
    try:
        listed, counted = count_alerts(args, service)
    except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError) as error:
        print(f"could not read the incidents back: {error}")
        listed = counted = -1

    latencies = result["latencies"]
    print(f"incidents created (201): {result['created']}")
    print(f"duplicates (200):        {result['duplicates']}")
    print(f"errors:                  {result['errors']}")
    for detail, times in result["error_samples"]:
        print(f"  {times} x {detail}")
    print(f"incidents listed:        {listed}")
    print(f"alerts counted:          {counted}")
    print(f"wall time:               {result['seconds']:.2f} s")
    print(f"throughput:              {args.triggers / result['seconds']:.1f} triggers/s")
    print(
        "latency ms:              "
        f"p50 {percentile(latencies, 0.50):.1f}  p90 {percentile(latencies, 0.90):.1f}  "
        f"p99 {percentile(latencies, 0.99):.1f}  max {latencies[-1]:.1f}  mean {statistics.fmean(latencies):.1f}"
    )

    problems = []
    if result["created"] != args.alerts:
        problems.append(f"created {result['created']} incidents for {args.alerts} alerts")
    if counted != args.triggers:
        problems.append(f"counted {counted} alerts for {args.triggers} triggers")
    if result["errors"]:
        problems.append(f"{result['errors']} requests failed")
    print("FAIL: " + "; ".join(problems) if problems else "OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
