"""A fault-injecting HTTP proxy between the AWS SDK (the Rust handlers) and moto, for chaos tests.

Off by default: the local runner starts it in front of moto only when `RAPPEL_FAULTS` is set, and
points the handlers' `AWS_ENDPOINT_URL` at it. Standard library only.

    python infra/local/faults.py --listen 127.0.0.1:5056 --upstream http://127.0.0.1:5055 \\
        --spec 'rate=0.2,seed=7,kinds=throttle+error500+reset_before+reset_after+delay,delay_ms=800'

Prints `faults proxy listening on 127.0.0.1:PORT` on stdout once it accepts connections (with the
port actually bound, so `--listen 127.0.0.1:0` works). `--verbose`: one line per request on stderr.

SPEC (the value of RAPPEL_FAULTS)
---------------------------------
Comma-separated `key=value` items, every one optional:

| key        | default                                          | meaning                                  |
|------------|--------------------------------------------------|------------------------------------------|
| `rate`     | 0.2                                              | probability (0..1) that a request is hit |
| `seed`     | 1                                                | seed of the one random.Random            |
| `kinds`    | `throttle+error500+reset_before+reset_after+delay` | kinds to pick from, `+`-separated, or `all` |
| `delay_ms` | 500                                              | delay of the `delay` kind                |
| `services` | `dynamodb+kms+sns+events`                        | services that may be hit, `+`-separated  |
| `enabled`  | 1                                                | 0 starts with injection off              |

A bare `on` / `1` / `true` (or an empty SPEC) means all defaults; a bare `off` / `0` / `false`
starts with injection off (the control route can turn it on). Unknown keys or kinds: exit 2.

Per eligible request the proxy draws, under one lock and in arrival order, `u = random()` and
`k = randrange(len(kinds))` from one `random.Random(seed)`; if injection is on and `u < rate`
it injects `kinds[k]`. Two draws per request whatever the outcome, so a given seed maps the n-th
eligible request to the same decision for any rate. Kinds:

* `throttle`     answer, without forwarding, HTTP 400 with the service's throttling error
                 (DynamoDB `ThrottlingException`, KMS / EventBridge `ThrottlingException`,
                 SNS `Throttling`).
* `error500`     answer, without forwarding, HTTP 500 with the service's internal error
                 (DynamoDB `InternalServerError`, KMS `KMSInternalException`, EventBridge
                 `InternalException`, SNS `InternalError`).
* `reset_before` close the client connection (RST, SO_LINGER 0) without forwarding or answering:
                 the operation did NOT happen.
* `reset_after`  forward to moto (the operation APPLIES), read its answer, then close the
                 client connection without answering: the ambiguous case.
* `delay`        forward, wait `delay_ms`, then answer normally.

Services are recognised by `X-Amz-Target` (JSON protocol: `DynamoDB_20120810.*` → dynamodb,
`TrentService.*` → kms, `AWSEvents.*` → events) and by the query protocol's `Action` (form body
or query string) with the SigV4 credential scope (`.../sns/aws4_request`) → sns. Never hit:
DynamoDB Streams (`DynamoDBStreams_20120810.*`), moto's own `/moto-api/` paths, and anything
not recognised; they are forwarded as is.

Control routes (answered by the proxy, never forwarded)
-------------------------------------------------------
`GET /_faults` →
    {"enabled": true, "rate": 0.2, "seed": 7, "kinds": [...], "delay_ms": 800,
     "services": [...], "requests": 42,
     "injected": {"throttle": 2, "error500": 1, "reset_before": 0, "reset_after": 1, "delay": 3},
     "by_operation": {"dynamodb.PutItem": {"requests": 9, "throttle": 1, "error500": 0, ...}, ...},
     "history": [{"n": 3, "operation": "dynamodb.PutItem", "kind": "throttle"}, ...]}
  `requests` counts every forwarded-or-faulted AWS request (moto-api excluded), `by_operation`
  every `service.Operation` seen (DynamoDB Streams included, never hit), `history` the last 500
  injections in order (`n` = index of the eligible request, from 0 after each reseed).

`POST /_faults` with a JSON object of changes, answered with the new state (400 if invalid):
    {"enabled": false}            stop injecting (let the system settle)
    {"rate": 0.1}                 {"kinds": ["throttle", "delay"]}     {"delay_ms": 100}
    {"services": ["dynamodb"]}    {"seed": 7}  (restart the generator: the same sequence again)
    {"reset": true}               zero the counters and the history
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("throttle", "error500", "reset_before", "reset_after", "delay")
SERVICES = ("dynamodb", "kms", "sns", "events")
DEFAULTS = {"enabled": True, "rate": 0.2, "seed": 1, "kinds": list(KINDS), "delay_ms": 500,
            "services": list(SERVICES)}
HISTORY = 500

# X-Amz-Target prefix → service (JSON protocol).
TARGETS = {"DynamoDB_20120810": "dynamodb", "DynamoDBStreams_20120810": "dynamodbstreams",
           "TrentService": "kms", "AWSEvents": "events"}
NEVER = {"dynamodbstreams"}

# Not forwarded either way (hop-by-hop, or recomputed here).
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
       "trailer", "trailers", "transfer-encoding", "upgrade", "expect", "content-length"}

JSON_TYPE = {"dynamodb": "application/x-amz-json-1.0", "kms": "application/x-amz-json-1.1",
             "events": "application/x-amz-json-1.1"}
JSON_ERRORS = {
    ("dynamodb", "throttle"): ("com.amazonaws.dynamodb.v20120810#ThrottlingException",
                               "Rate of requests exceeds the allowed throughput."),
    ("dynamodb", "error500"): ("com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"),
    ("kms", "throttle"): ("ThrottlingException", "Rate exceeded"),
    ("kms", "error500"): ("KMSInternalException", "An internal error occurred."),
    ("events", "throttle"): ("ThrottlingException", "Rate exceeded"),
    ("events", "error500"): ("InternalException", "An internal error occurred."),
}
SNS_ERRORS = {
    "throttle": ("Sender", "Throttling", "Rate exceeded"),
    "error500": ("Receiver", "InternalError", "An internal error occurred."),
}


class SpecError(ValueError):
    pass


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("|", "+").split("+") if part.strip()]


def _check_kinds(kinds) -> list[str]:
    if isinstance(kinds, str):
        kinds = list(KINDS) if kinds.strip() == "all" else _split(kinds)
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise SpecError(f"kinds must be among {'+'.join(KINDS)} (got {kinds})")
    return kinds


def _check_services(services) -> list[str]:
    if isinstance(services, str):
        services = list(SERVICES) if services.strip() == "all" else _split(services)
    services = list(services)
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise SpecError(f"services must be among {'+'.join(SERVICES)} (got {services})")
    return services


def _check_rate(rate) -> float:
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise SpecError(f"rate must be a number in 0..1 (got {rate!r})") from None
    if not 0.0 <= value <= 1.0:
        raise SpecError(f"rate must be in 0..1 (got {value})")
    return value


def _check_int(name: str, value, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise SpecError(f"{name} must be an integer (got {value!r})")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be an integer (got {value!r})") from None
    if minimum is not None and number < minimum:
        raise SpecError(f"{name} must be >= {minimum} (got {number})")
    return number


def _check_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise SpecError(f"{name} must be a boolean (got {value!r})")


def parse_spec(spec: str | None) -> dict:
    """RAPPEL_FAULTS → {"enabled", "rate", "seed", "kinds", "delay_ms", "services"}."""
    config = {k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULTS.items()}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            config["enabled"] = _check_bool("spec", item)
            continue
        key, value = (part.strip() for part in item.split("=", 1))
        if key == "rate":
            config["rate"] = _check_rate(value)
        elif key == "seed":
            config["seed"] = _check_int("seed", value)
        elif key == "kinds":
            config["kinds"] = _check_kinds(value)
        elif key == "delay_ms":
            config["delay_ms"] = _check_int("delay_ms", value, 0)
        elif key == "services":
            config["services"] = _check_services(value)
        elif key == "enabled":
            config["enabled"] = _check_bool("enabled", value)
        else:
            raise SpecError(f"unknown key {key!r} (rate, seed, kinds, delay_ms, services, enabled)")
    return config


def identify(method: str, path: str, headers, body: bytes) -> tuple[str, str] | None:
    """(service, operation) of an AWS request, or None if not recognised."""
    target = headers.get("x-amz-target")
    if target:
        prefix, _, operation = target.partition(".")
        return TARGETS.get(prefix, prefix.lower() or "unknown"), operation or "unknown"
    query = urllib.parse.urlsplit(path).query
    params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    content_type = (headers.get("content-type") or "").lower()
    if method == "POST" and (not content_type or "x-www-form-urlencoded" in content_type):
        try:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            pass
    action = params.get("Action")
    if not action:
        return None
    # The SigV4 credential scope names the service (header, or presigned query); SNS is the only
    # query-protocol service Rappel calls, so an unsigned Action is taken for SNS.
    return _scope_service(headers.get("authorization") or "", params.get("X-Amz-Credential")) or "sns", action


def _scope_service(authorization: str, presigned: str | None) -> str | None:
    # AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-3/sns/aws4_request, SignedHeaders=..., Signature=...
    marker = "Credential="
    at = authorization.find(marker)
    if at >= 0:
        credential = authorization[at + len(marker):].split(",", 1)[0].strip()
    elif presigned:
        credential = presigned
    else:
        return None
    parts = credential.split("/")
    return parts[3] if len(parts) >= 5 and parts[3] else None


def error_response(service: str, kind: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The service's own throttling (400) or internal (500) error."""
    status = 400 if kind == "throttle" else 500
    request_id = str(uuid.uuid4())
    if service == "sns":
        kind_type, code, message = SNS_ERRORS[kind]
        body = ('<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
                f"<Type>{kind_type}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
    error_type, message = JSON_ERRORS[(service, kind)]
    body = json.dumps({"__type": error_type, "message": message}, separators=(",", ":")).encode()
    headers = [("Content-Type", JSON_TYPE[service]), ("x-amzn-RequestId", request_id)]
    if service == "dynamodb":
        headers.append(("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)))
    return status, headers, body


class Faults:
    """The configuration, the generator and the counters, all under one lock."""

    def __init__(self, config: dict):
        self.lock = threading.Lock()
        self.enabled = config["enabled"]
        self.rate = config["rate"]
        self.seed = config["seed"]
        self.kinds = list(config["kinds"])
        self.delay_ms = config["delay_ms"]
        self.services = list(config["services"])
        self.rng = random.Random(self.seed)
        self.drawn = 0
        self._zero()

    def _zero(self) -> None:
        self.requests = 0
        self.injected = {k: 0 for k in KINDS}
        self.by_operation: dict[str, dict[str, int]] = {}
        self.history: list[dict] = []

    def decide(self, service: str | None, operation: str | None) -> tuple[str | None, int]:
        """Count the request and draw its fault (None: forward as is). Returns (kind, delay_ms)."""
        with self.lock:
            self.requests += 1
            name = f"{service}.{operation}" if service else "unknown"
            counts = self.by_operation.setdefault(name, {"requests": 0, **{k: 0 for k in KINDS}})
            counts["requests"] += 1
            if service not in self.services or service in NEVER:
                return None, self.delay_ms
            n = self.drawn
            self.drawn += 1
            u = self.rng.random()
            pick = self.rng.randrange(len(self.kinds))
            if not self.enabled or u >= self.rate:
                return None, self.delay_ms
            kind = self.kinds[pick]
            self.injected[kind] += 1
            counts[kind] += 1
            self.history.append({"n": n, "operation": name, "kind": kind})
            del self.history[:-HISTORY]
            return kind, self.delay_ms

    def change(self, changes: dict) -> None:
        if not isinstance(changes, dict):
            raise SpecError("expected a JSON object")
        allowed = {"enabled", "rate", "seed", "kinds", "delay_ms", "services", "reset"}
        unknown = set(changes) - allowed
        if unknown:
            raise SpecError(f"unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")
        # Validate everything before changing anything.
        new = {}
        if "enabled" in changes:
            new["enabled"] = _check_bool("enabled", changes["enabled"])
        if "rate" in changes:
            new["rate"] = _check_rate(changes["rate"])
        if "seed" in changes:
            new["seed"] = _check_int("seed", changes["seed"])
        if "kinds" in changes:
            new["kinds"] = _check_kinds(changes["kinds"])
        if "delay_ms" in changes:
            new["delay_ms"] = _check_int("delay_ms", changes["delay_ms"], 0)
        if "services" in changes:
            new["services"] = _check_services(changes["services"])
        reset = _check_bool("reset", changes.get("reset", False))
        with self.lock:
            for key, value in new.items():
                setattr(self, key, value)
            if "seed" in new:
                self.rng = random.Random(self.seed)
                self.drawn = 0
            if reset:
                self._zero()

    def state(self) -> dict:
        with self.lock:
            return {"enabled": self.enabled, "rate": self.rate, "seed": self.seed, "kinds": list(self.kinds),
                    "delay_ms": self.delay_ms, "services": list(self.services), "requests": self.requests,
                    "injected": dict(self.injected),
                    "by_operation": {k: dict(v) for k, v in sorted(self.by_operation.items())},
                    "history": [dict(h) for h in self.history]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rappel-faults"
    # Set on the class by serve().
    faults: Faults
    upstream: urllib.parse.SplitResult
    verbose = False
    timeout = 120  # an idle client connection does not hold a thread forever

    note = ""  # "service.Operation kind" of the request being handled, for --verbose

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        if self.verbose:
            sys.stderr.write("faults: %s %s%s\n" % (self.address_string(), format % args, self.note))

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # -- plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes, reason: str | None = None) -> None:
        self.send_response_only(status, reason)
        sent_length = None
        for name, value in headers:
            if name.lower() == "content-length":
                sent_length = value  # only kept for HEAD
                continue
            if name.lower() in HOP:
                continue
            self.send_header(name, value)
        if self.command == "HEAD" and sent_length is not None:
            self.send_header("Content-Length", sent_length)
        elif self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.close_connection = True
        self.log_request(status, len(body))

    def _json(self, status: int, value) -> None:
        self._answer(status, [("Content-Type", "application/json")], json.dumps(value).encode())

    def _reset(self) -> None:
        """Drop the client connection with a RST, answering nothing."""
        self.log_message('"%s" reset', self.requestline)
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The fd really closes (RST) once the makefile() reader is closed too; wfile is a plain
        # writer on the socket, left open so the server's own flush after the handler is a no-op.
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        up = self.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=60)
        try:
            conn.putrequest(self.command, (up.path.rstrip("/") + self.path) if up.path not in ("", "/") else self.path,
                            skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP:
                    conn.putheader(name, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body if body else None)
            response = conn.getresponse()
            data = response.read()
            return response.status, response.reason, list(response.getheaders()), data
        finally:
            conn.close()

    def _handle(self) -> None:
        self.note = ""
        body = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_faults":
            return self._control(body)
        if path.startswith("/moto-api"):
            return self._proxy(body)
        found = identify(self.command, self.path, self.headers, body)
        service, operation = found if found else (None, None)
        kind, delay_ms = self.faults.decide(service, operation)
        self.note = f" {service}.{operation} {kind or 'pass'}" if found else " unknown pass"
        if kind in ("throttle", "error500"):
            return self._answer(*error_response(service, kind))
        if kind == "reset_before":
            return self._reset()
        return self._proxy(body, kind, delay_ms)

    def _proxy(self, body: bytes, kind: str | None = None, delay_ms: int = 0) -> None:
        try:
            status, reason, headers, data = self._forward(body)
        except (OSError, http.client.HTTPException) as err:
            if kind == "reset_after":
                return self._reset()
            message = f"faults proxy: upstream {self.upstream.geturl()} failed: {err}"
            return self._answer(502, [("Content-Type", "text/plain")], message.encode())
        if kind == "reset_after":
            return self._reset()
        if kind == "delay":
            time.sleep(delay_ms / 1000.0)
        self._answer(status, headers, data, reason)

    def _control(self, body: bytes) -> None:
        if self.command == "GET":
            return self._json(200, self.faults.state())
        if self.command != "POST":
            return self._json(405, {"error": "GET or POST /_faults"})
        try:
            self.faults.change(json.loads(body or b"{}"))
        except (ValueError, SpecError) as err:  # json.JSONDecodeError is a ValueError
            return self._json(400, {"error": str(err)})
        return self._json(200, self.faults.state())


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    verbose = False

    def handle_error(self, request, client_address):
        # A client that gave up (its read timeout during a `delay`, say) is no error of ours.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)) and not self.verbose:
            return
        super().handle_error(request, client_address)


def serve(listen: str, upstream: str, config: dict, verbose: bool = False) -> None:
    host, _, port = listen.rpartition(":")
    target = urllib.parse.urlsplit(upstream if "://" in upstream else f"http://{upstream}")
    if target.scheme != "http" or not target.hostname:
        raise SpecError(f"--upstream must be http://host:port (got {upstream!r})")
    handler = type("BoundHandler", (Handler,), {"faults": Faults(config), "upstream": target, "verbose": verbose})
    server = Server((host or "127.0.0.1", int(port)), handler)
    server.verbose = verbose
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    bound_host, bound_port = server.server_address[:2]
    print(f"faults proxy listening on {bound_host}:{bound_port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fault-injecting proxy in front of moto (see the module docstring).")
    parser.add_argument("--listen", required=True, help="host:port to listen on (port 0: any free port)")
    parser.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5055")
    parser.add_argument("--spec", default="", help="RAPPEL_FAULTS, e.g. rate=0.2,seed=7,kinds=throttle+delay")
    parser.add_argument("--verbose", action="store_true", help="one line per request on stderr")
    args = parser.parse_args(argv)
    try:
        config = parse_spec(args.spec)
        serve(args.listen, args.upstream, config, args.verbose)
    except SpecError as err:
        print(f"faults: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
