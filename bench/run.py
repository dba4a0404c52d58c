"""`make bench`: one table of what Rappel costs per missed call, measured on this machine.

* hot path per provider (criterion, `bench/benches/hot_path.rs`: verify + parse + classify +
  decide) next to the same path in Python (`bench/python_baseline.py`, `phonenumbers` +
  `holidays`);
* release binary and zip (-9) size per function, next to a hello-world `lambda_runtime`
  function built with the same profile (`bench/src/bin/hello.rs`);
* cold start: each release `bootstrap` started against a local Lambda Runtime API (this file)
  with the local stack's moto behind it: init (process start to its first `/next`), first and
  warm invocations, peak RSS; medians of RUNS starts;
* AWS calls per missed call by service, on a warm local stack with accounts cached 30 s as on
  Lambda (the SDK interceptor of `GET /_local/aws-calls`), for a call texted now, a deferred
  one, a skipped one, a redelivery; and KMS calls per missed call averaged over 1,000 calls
  (`bench/benches/kms_calls.rs`, the KMS adapter against the same moto);
* the Monday 08:00 drain (`bench/benches/drain.rs`): 10,000 messages due at once, published
  at 20, 50 and 100 SMS per second, on virtual time.

Machines here are shared and noisy: compare ratios measured in the same run, not absolute
figures across runs. Writes target/bench/report.json.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from rappel_stack import Stack, rfc3339  # noqa: E402

FUNCTIONS = ["webhook-intake", "eligibility", "sender", "booking", "inbound-sms"]
RUNS = int(os.environ.get("RAPPEL_BENCH_RUNS", "5"))
WARM = 10
OUT = ROOT / "target" / "bench"
PORT, MOTO_PORT = 3341, 5341
SECRET = "demo-generic-secret"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, check=True, **kw)


# ----------------------------------------------------------------------------- hot path


def hot_path() -> dict:
    bench = subprocess.run(["cargo", "bench", "--quiet", "-p", "rappel-bench", "--bench", "hot_path", "--",
                            "--warm-up-time", "1", "--measurement-time", "3"],
                           cwd=ROOT, capture_output=True, text=True)
    if bench.returncode:
        sys.exit(f"cargo bench failed:\n{bench.stderr[-4000:]}")
    base = ROOT / "target" / "criterion"
    rust = {}
    for estimates in sorted(base.glob("*/*/new/estimates.json")):
        group, name = estimates.parts[-4], estimates.parts[-3]
        rust[f"{group}/{name}"] = json.loads(estimates.read_text())["median"]["point_estimate"] / 1000
    python = json.loads(subprocess.run([sys.executable, str(ROOT / "bench" / "python_baseline.py")],
                                       cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return {"rust_us": rust, "python_us": python}


# ----------------------------------------------------------------------------- sizes


def sizes() -> dict:
    run(["cargo", "lambda", "build", "--release", "--x86-64", "--quiet",
         *[a for f in FUNCTIONS + ["rappel-bench"] for a in ("-p", f)]])
    out = {}
    for name in FUNCTIONS + ["hello", "multicall"]:
        binary = ROOT / "target" / "lambda" / name / "bootstrap"
        archive = OUT / f"{name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(binary, "bootstrap")
        out[name] = {"binary_mb": binary.stat().st_size / 1e6, "zip_mb": archive.stat().st_size / 1e6}
    return out


# ----------------------------------------------------------------------------- cold start


class RuntimeApi:
    """The Lambda Runtime API, enough of it: hands out one event per `/next`, records when
    each was asked for and answered (time.monotonic)."""

    def __init__(self):
        self.events: list[bytes] = []
        self.asked: list[float] = []
        self.answered: list[tuple[float, int, bytes]] = []
        self.cond = threading.Condition()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the runtime's delayed ACK add 40 ms to every invocation.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                with api.cond:
                    api.asked.append(time.monotonic())
                    api.cond.notify_all()
                    api.cond.wait_for(lambda: api.events)
                    event = api.events.pop(0)
                self.send_response(200)
                for k, v in (("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4())),
                             ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000)),
                             ("Lambda-Runtime-Invoked-Function-Arn",
                              "arn:aws:lambda:eu-west-3:123456789012:function:bench"),
                             ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                             ("Content-Type", "application/json"), ("Content-Length", str(len(event)))):
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(event)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 0 if self.path.endswith("/response") else 1
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with api.cond:
                    api.answered.append((time.monotonic(), status, body))
                    api.cond.notify_all()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A runtime killed between invocations resets its connection: not an error here.
        self.server.handle_error = lambda request, client_address: None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: bytes, timeout: float = 30) -> tuple[float, float, int, bytes]:
        """Hand `event` to the waiting runtime; (handed at, answered at, status, body)."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.asked) > len(self.answered), timeout):
                raise RuntimeError("the runtime never asked for an event")
            n = len(self.answered)
            handed = time.monotonic()
            self.events.append(event)
            self.cond.notify_all()
            if not self.cond.wait_for(lambda: len(self.answered) > n, timeout):
                raise RuntimeError("no answer")
            at, status, body = self.answered[n]
        return handed, at, status, body

    def close(self):
        self.server.shutdown()


def generic_event(call_id: str) -> bytes:
    """An API Gateway HTTP API event of a signed generic missed call, signed now."""
    template = json.loads((ROOT / "events" / "webhook-intake-generic.json").read_text())
    now = datetime.now(timezone.utc).replace(microsecond=0)
    body = json.dumps({"call_id": call_id, "direction": "inbound", "status": "no_answer",
                       "from": "+33600000701", "to": "+33144000000", "started_at": rfc3339(now),
                       "ended_at": rfc3339(now), "ring_seconds": 20})
    stamp = int(now.timestamp())
    mac = hmac.new(SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    template["headers"].update({"x-rappel-timestamp": str(stamp), "x-rappel-signature": f"v1={mac}",
                                "content-length": str(len(body))})
    template["body"] = body
    template["requestContext"]["timeEpoch"] = stamp * 1000
    return json.dumps(template).encode()


def events_for(name: str, i: int) -> bytes:
    if name == "webhook-intake":
        return generic_event(f"bench-{uuid.uuid4().hex[:12]}-{i}")
    if name == "hello":
        return b"{}"
    file = {"eligibility": "eligibility-redecide.json", "sender": "sender-sweep.json",
            "booking": "booking-get.json", "inbound-sms": "inbound-sms-other.json"}[name]
    return (ROOT / "events" / file).read_bytes()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_start(name: str, moto_port: int, binary_name: str | None = None, warm_up: bool = True) -> dict:
    """`name`'s cold start; `binary_name`: another binary playing it (the multi-call one);
    `warm_up=False`: without opening connections during init (`AWS_WARM_UP=off`)."""
    binary = ROOT / "target" / "lambda" / (binary_name or name) / "bootstrap"
    runs = []
    for _ in range(RUNS):
        api = RuntimeApi()
        env = {
            "PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}", "AWS_REGION": "eu-west-3",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "TABLE_NAME": "rappel",
            "NUMBER_KEY_ID": "alias/rappel-number", "HASH_KEY_ID": "alias/rappel-caller-hash",
            "SECRETS_KEY_ID": "alias/rappel-webhook-secrets", "EVENT_BUS_NAME": "rappel",
            "PUBLIC_BASE_URL": "https://rappel.example.fr", "RUST_LOG": "warn",
            "RAPPEL_FUNCTION": name, "AWS_WARM_UP": "on" if warm_up else "off",
        }
        started = time.monotonic()
        process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            with api.cond:
                if not api.cond.wait_for(lambda: api.asked, 30):
                    raise RuntimeError(f"{name}: never asked for an event")
                init = api.asked[0] - started
            handed, answered, status, body = api.invoke(events_for(name, 0))
            if status:
                raise RuntimeError(f"{name}: first invocation failed: {body[:300]!r}")
            first = answered - handed
            warm = []
            for i in range(1, WARM + 1):
                handed, answered, status, body = api.invoke(events_for(name, i))
                if status:
                    raise RuntimeError(f"{name}: invocation failed: {body[:300]!r}")
                warm.append(answered - handed)
            rss = peak_rss_mb(process.pid)
        finally:
            process.kill()
            process.wait()
            api.close()
        runs.append({"init_ms": init * 1000, "first_ms": first * 1000,
                     "warm_ms": statistics.median(warm) * 1000, "rss_mb": rss})
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


# ----------------------------------------------------------------------------- AWS calls


def aws_calls(stack: Stack) -> dict:
    """AWS calls by service per scenario, on a warm stack (the account's secrets opened)."""
    headers = {"content-type": "application/json"}

    sent: dict[str, str] = {}

    def webhook(call_id: str, number: str, at: datetime) -> None:
        body = sent.get(call_id) or json.dumps({
            "call_id": call_id, "direction": "inbound", "status": "no_answer", "from": number,
            "to": "+33144000000", "started_at": rfc3339(at), "ended_at": rfc3339(at), "ring_seconds": 20})
        sent[call_id] = body
        assert stack.webhook("generic", "demo", body, headers, SECRET).status == 200

    def counted(action) -> dict:
        before = {(c["function"], c["service"], c["operation"]): c["count"]
                  for c in stack.get_json("/_local/aws-calls")}
        action()
        per_service: dict[str, int] = {}
        for c in stack.get_json("/_local/aws-calls"):
            n = c["count"] - before.get((c["function"], c["service"], c["operation"]), 0)
            # Schedules poll whether or not a call came: the re-decide schedule, and the
            # sweep's Query of the due index (its work on a due message is counted).
            polling = c["function"] == "eligibility:redecide" or (
                c["function"] == "sender:sweep" and c["operation"] == "Query")
            if n and not polling:
                per_service[c["service"]] = per_service.get(c["service"], 0) + n
        return per_service

    monday_10 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    stack.set_clock(monday_10)
    webhook("bench-warm", "+33600000710", monday_10)
    stack.drain()
    out = {}

    def texted_now():
        webhook("bench-now", "+33600000711", stack.now())
        stack.drain()

    def skipped():
        webhook("bench-landline", "+33144000011", stack.now())
        stack.drain()

    def redelivery():
        # The provider delivers the same webhook again (the first answer was lost).
        webhook("bench-now", "+33600000711", stack.now())
        stack.drain()

    def deferred():
        evening = datetime(2026, 11, 30, 20, 30, tzinfo=timezone.utc)  # 21:30 in Paris
        stack.set_clock(evening)
        webhook("bench-deferred", "+33600000712", evening)
        stack.drain()
        stack.set_clock(datetime(2026, 12, 1, 7, 1, tzinfo=timezone.utc))  # 08:01 the next day
        stack.drain()

    out["texted now"] = counted(texted_now)
    out["skipped (landline)"] = counted(skipped)
    out["redelivery"] = counted(redelivery)
    out["deferred, sent at 08:00"] = counted(deferred)
    return out


def kms_calls() -> dict:
    """KMS calls per missed call over 1,000 calls, the real adapter on moto (bench/benches/kms_calls.rs)."""
    env = dict(os.environ, RAPPEL_BENCH_MOTO=f"http://127.0.0.1:{MOTO_PORT}")
    bench = subprocess.run(["cargo", "bench", "--quiet", "-p", "rappel-bench", "--bench", "kms_calls"],
                           cwd=ROOT, capture_output=True, text=True, env=env)
    if bench.returncode:
        sys.exit(f"cargo bench (kms_calls) failed:\n{bench.stderr[-4000:]}")
    return json.loads([line for line in bench.stdout.splitlines() if line.startswith("{")][-1])


# ----------------------------------------------------------------------------- drain


def drain() -> list[dict]:
    """The Monday 08:00 drain on virtual time (bench/benches/drain.rs): one JSON line each."""
    bench = subprocess.run(["cargo", "bench", "--quiet", "-p", "rappel-bench", "--bench", "drain"],
                           cwd=ROOT, capture_output=True, text=True)
    if bench.returncode:
        sys.exit(f"cargo bench (drain) failed:\n{bench.stderr[-4000:]}")
    return [json.loads(line) for line in bench.stdout.splitlines() if line.startswith("{")]


# ----------------------------------------------------------------------------- table


def table(report: dict) -> str:
    lines = []
    hp = report.get("hot_path", {"rust_us": {}, "python_us": {"generic": float("nan")}})
    lines.append("Hot path per webhook (verify + parse + classify + decide), median µs")
    py = hp["python_us"]["generic"]
    for key, us in sorted(hp["rust_us"].items()):
        ratio = f"   Python, same path: {py:.1f} µs ({py / us:.1f}×)" if key == "hot_path/generic" else ""
        lines.append(f"  {key:<22} {us:8.2f}{ratio}")
    lines.append("")
    if "sizes" in report:
        lines.append("Release build and cold start (local Runtime API, moto behind; medians of "
                     f"{RUNS} starts, warm = median of {WARM})")
        lines.append(f"  {'function':<15} {'binary MB':>9} {'zip MB':>7} {'init ms':>8} {'first ms':>9} "
                     f"{'warm ms':>8} {'RSS MB':>7} {'init/hello':>10} | {'no warm-up: init':>16} "
                     f"{'first':>6} {'init/hello':>10}")
        none = {"init_ms": float("nan"), "first_ms": float("nan"), "warm_ms": float("nan"), "rss_mb": float("nan")}
        cold = report.get("cold_start", {})
        bare = report.get("cold_start_no_warm_up", {})
        hello = cold.get("hello", none)["init_ms"]
        for name in ["hello"] + FUNCTIONS + ["multicall"]:
            s, c, b = report["sizes"][name], cold.get(name, none), bare.get(name, none)
            label = "multi-call" if name == "multicall" else name
            lines.append(f"  {label:<15} {s['binary_mb']:9.2f} {s['zip_mb']:7.2f} {c['init_ms']:8.1f} "
                         f"{c['first_ms']:9.1f} {c['warm_ms']:8.1f} {c['rss_mb']:7.1f} {c['init_ms'] / hello:10.1f} | "
                         f"{b['init_ms']:16.1f} {b['first_ms']:6.1f} {b['init_ms'] / hello:10.1f}")
        lines.append("  (init: process start to the first request for an event, with the connections the "
                     "first invocation needs opened (rappel::aws::warm_up); no warm-up: AWS_WARM_UP=off)")
        total = sum(report["sizes"][f]["zip_mb"] for f in FUNCTIONS)
        lines.append(f"  (multi-call: the five functions in one binary, started as webhook-intake; the five "
                     f"zips weigh {total:.2f} MB together)")
        lines.append("  (events: intake a signed generic missed call; eligibility the re-decide schedule; "
                     "sender the sweep; booking GET of a link; inbound-sms a non-STOP reply)")
        lines.append("")
    lines.append("AWS calls per missed call (warm local stack, accounts cached 30 s as on Lambda; "
                 "schedules' polling not counted)")
    for scenario, per in report.get("aws_calls", {}).items():
        total = sum(per.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(per.items()))
        lines.append(f"  {scenario:<26} {total:5d}  ({detail})")
    if "kms" in report:
        k = report["kms"]
        lines.append(f"  KMS calls per missed call over {k['calls']} calls (hash, seal, open; cold "
                     f"containers included): {k['kms_per_call']:.3f}; an account created before "
                     f"per-account hash keys: {k['kms_per_call_legacy_account']:.3f}")
    if "drain" in report:
        lines.append("")
        lines.append("Drain: 10,000 messages of 200 accounts due Monday 08:00 (virtual seconds; "
                     "120 ms of AWS round trips per message; a sweep a minute)")
        for d in report["drain"]:
            bound = f"{d['bound_s']:7.0f}" if d["bound_s"] else "      –"
            ratio = f"{d['drain_s'] / d['bound_s']:5.2f}×" if d["bound_s"] else "     –"
            lines.append(f"  {d['scenario']:<14} {d['drain_s']:7.0f} s   bound {bound} s  {ratio}  "
                         f"sweeps {d['sweeps']:2d}  sent {d['sent']}  left {d['left']}")
    return "\n".join(lines)


def main() -> None:
    """RAPPEL_BENCH_PARTS (comma-separated, default all): hot, sizes, calls, cold, drain."""
    parts = set(os.environ.get("RAPPEL_BENCH_PARTS", "hot,sizes,calls,cold,drain").split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    report: dict = {"measured_at": rfc3339(datetime.now(timezone.utc))}
    if "hot" in parts:
        print("bench: hot path (criterion + Python)...", file=sys.stderr)
        report["hot_path"] = hot_path()
    if "drain" in parts:
        print("bench: the Monday 08:00 drain...", file=sys.stderr)
        report["drain"] = drain()
    if parts & {"sizes", "cold"}:
        print("bench: release build and sizes...", file=sys.stderr)
        report["sizes"] = sizes()
    if parts & {"calls", "cold"}:
        accounts = OUT / "accounts"
        accounts.mkdir(exist_ok=True)
        shutil.copy(ROOT / "infra" / "local" / "accounts" / "demo.json", accounts / "demo.json")
        # Accounts cached 30 s, as on Lambda (the local stack reads them every time by default).
        os.environ["ACCOUNT_CACHE_SECONDS"] = "30"
        with Stack(port=PORT, moto_port=MOTO_PORT, clock="2026-11-30T09:00:00Z", accounts_dir=str(accounts),
                   log_path=OUT / "rappel-local.log") as stack:
            if "calls" in parts:
                print("bench: AWS calls per missed call...", file=sys.stderr)
                report["aws_calls"] = aws_calls(stack)
                report["kms"] = kms_calls()
            if "cold" in parts:
                print("bench: cold starts...", file=sys.stderr)
                report["cold_start"] = {name: cold_start(name, MOTO_PORT) for name in ["hello"] + FUNCTIONS}
                report["cold_start"]["multicall"] = cold_start("webhook-intake", MOTO_PORT, "multicall")
                report["cold_start_no_warm_up"] = {
                    name: cold_start(name, MOTO_PORT, warm_up=False) for name in FUNCTIONS}
                report["cold_start_no_warm_up"]["multicall"] = cold_start(
                    "webhook-intake", MOTO_PORT, "multicall", warm_up=False)
    (OUT / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(table(report))


if __name__ == "__main__":
    main()
