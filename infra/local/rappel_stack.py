"""Drive the Rappel local stack from Python (standard library only).

Used by `make demo` (infra/local/demo.py) and the end-to-end tests (tests/e2e). It starts the
`rappel-local` binary, signs provider webhooks the way each provider does, and reads the
`/_local/` control routes described in DESIGN.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "target" / "debug" / "rappel-local"


def sign_twilio(auth_token: str, url: str, form_body: str) -> str:
    """X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted key+value pairs))."""
    params = urllib.parse.parse_qsl(form_body, keep_blank_values=True)
    payload = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sign_generic(secret: str, timestamp: int, body: str) -> str:
    """X-Rappel-Signature: v1=hex(HMAC-SHA256(secret, "{timestamp}.{body}"))."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"v1={mac}"


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class Stack:
    """One running `rappel-local` (which starts its own moto)."""

    def __init__(self, port: int = 3000, moto_port: int = 5055, clock: str | None = None,
                 accounts_dir: str | None = None, log_path: Path | None = None,
                 faults: str | None = None, faults_port: int | None = None):
        self.port = port
        self.moto_port = moto_port
        # Chaos tests: RAPPEL_FAULTS spec for the fault proxy (infra/local/faults.py) that the
        # runner then puts between the handlers and moto, on faults_port (default moto_port + 1).
        self.faults_spec = faults
        # Seconds to wait for an answer (a drain under injected faults takes longer).
        self.request_timeout = 60 if faults is None else 600
        self.faults_port = faults_port if faults_port is not None else moto_port + 1
        self.base = f"http://127.0.0.1:{port}"
        self.clock = clock
        self.accounts_dir = accounts_dir or str(ROOT / "infra" / "local" / "accounts")
        self.log_path = log_path or ROOT / ".local" / f"rappel-local-{port}.log"
        self.process: subprocess.Popen | None = None
        self.banner = ""

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if not RUNNER.exists():
            raise SystemExit(f"{RUNNER} is missing: run `cargo build -p rappel-local` (make does it)")
        env = dict(os.environ)
        env.update({
            "RAPPEL_PORT": str(self.port),
            "MOTO_PORT": str(self.moto_port),
            "RAPPEL_ACCOUNTS_DIR": self.accounts_dir,
            "MOTO_SERVER": env.get("MOTO_SERVER", str(ROOT / ".venv" / "bin" / "moto_server")),
            "RUST_LOG": env.get("RUST_LOG", "info"),
            "NO_COLOR": "1",
        })
        if self.clock:
            env["RAPPEL_CLOCK"] = self.clock
        # Faults only when asked for here, never inherited from the calling shell.
        env.pop("RAPPEL_FAULTS", None)
        env.pop("RAPPEL_FAULTS_PORT", None)
        if self.faults_spec is not None:
            env["RAPPEL_FAULTS"] = self.faults_spec
            env["RAPPEL_FAULTS_PORT"] = str(self.faults_port)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(RUNNER)], cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"rappel-local exited ({self.process.returncode}); see {self.log_path}:\n"
                                 + self.log_path.read_text()[-2000:])
            try:
                if self.request("GET", "/_local/health").status == 200:
                    self.banner = self.log_path.read_text()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"rappel-local did not become healthy; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    # -- HTTP ---------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict | None = None) -> Reply:
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.request_timeout) as res:
                return Reply(res.status, dict(res.headers), res.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, dict(err.headers), err.read())

    def get_json(self, path: str):
        reply = self.request("GET", path)
        assert reply.status == 200, (path, reply.status, reply.text)
        return reply.json()

    def post_json(self, path: str, payload) -> Reply:
        return self.request("POST", path, json.dumps(payload), {"content-type": "application/json"})

    # -- local control routes -----------------------------------------------------------

    def now(self) -> datetime:
        return parse_instant(self.get_json("/_local/clock")["now"])

    def set_clock(self, at: datetime | str) -> dict:
        value = at if isinstance(at, str) else rfc3339(at)
        reply = self.post_json("/_local/clock", {"now": value})
        assert reply.status == 200, reply.text
        return reply.json()

    def drain(self) -> dict:
        reply = self.request("POST", "/_local/drain")
        assert reply.status == 200, reply.text
        return reply.json()

    def calls(self, account_id: str) -> list:
        return self.get_json(f"/_local/calls?account_id={account_id}")

    def outbox(self) -> list:
        return self.get_json("/_local/outbox")

    def events(self) -> list:
        return self.get_json("/_local/events")

    # -- fault proxy (Stack(faults=...)) ------------------------------------------------

    def _faults_request(self, method: str, payload: dict | None = None) -> dict:
        if self.faults_spec is None:
            raise RuntimeError("this Stack runs without the fault proxy: pass Stack(faults=SPEC)")
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.faults_port}/_faults", data=data, method=method,
                                     headers={"content-type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} /_faults: {err.code} {err.read().decode()}") from None

    def faults(self) -> dict:
        """GET /_faults: {enabled, rate, seed, kinds, requests, injected, by_operation, history, ...}."""
        return self._faults_request("GET")

    def set_faults(self, **changes) -> dict:
        """POST /_faults, e.g. set_faults(enabled=False) to let the system settle; the new state."""
        return self._faults_request("POST", changes)

    # -- webhooks -----------------------------------------------------------------------

    def webhook(self, provider: str, account_id: str, body: str, headers: dict, secret: str | None,
                query: str = "") -> Reply:
        """POST a provider webhook, signed with `secret` as the provider would (None: as is)."""
        headers = dict(headers)
        path = f"/webhooks/{provider}/{account_id}" + (f"?{query}" if query else "")
        if secret is not None and provider == "twilio":
            headers["x-twilio-signature"] = sign_twilio(secret, self.base + path, body)
        elif secret is not None and provider == "generic":
            stamp = int(self.now().timestamp())
            headers["x-rappel-timestamp"] = str(stamp)
            headers["x-rappel-signature"] = sign_generic(secret, stamp, body)
        return self.request("POST", path, body, headers)

    def replay(self, fixture: dict, account_id: str, secrets: dict) -> Reply:
        return self.webhook(fixture["provider"], account_id, fixture["body"], fixture["headers"],
                            secrets.get(fixture["provider"]))


def load_fixture(path: Path) -> dict:
    return json.loads(path.read_text())


def load_account(account_id: str = "demo") -> dict:
    return json.loads((ROOT / "infra" / "local" / "accounts" / f"{account_id}.json").read_text())


def token_from_sms(body: str) -> str:
    match = re.search(r"/r/([A-Za-z0-9_-]{22})", body)
    assert match, "no booking link in the SMS"
    return match.group(1)


def slots_on_page(page: str) -> list[str]:
    """Values of the slot radio buttons, in page order."""
    values = []
    for tag in re.findall(r"<input\b[^>]*>", page):
        if re.search(r'\bname="slot"', tag):
            match = re.search(r'\bvalue="([^"]+)"', tag)
            if match:
                values.append(match.group(1))
    return values


# -- more providers' signatures (ported from each provider's documented algorithm) ----------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_vonage(secret: str, body: bytes | str, iat: int, **claims) -> str:
    """Vonage signed webhook: a JWT for `Authorization: Bearer <token>`.

    HS256 over `"{b64url(header)}.{b64url(claims)}"` with the signature secret; the claims carry
    `iat` (Unix seconds) and `payload_hash` = hex SHA-256 of the raw body, plus Vonage's `jti`,
    `iss`, `api_key` and `application_id`. Extra `claims` are added or override these.
    """
    raw = body.encode() if isinstance(body, str) else body
    payload_hash = hashlib.sha256(raw).hexdigest()
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    content = {"iat": iat, "jti": f"rappel-{payload_hash[:16]}", "iss": "Vonage", "payload_hash": payload_hash,
               "api_key": "a1b2c3d", "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"} | claims
    payload = _b64url(json.dumps(content, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(mac)}"


def sign_ringover(secret: str, url: str, event: str) -> str:
    """X-Ringover-Webhook-Signature: a JWT, HS512 with the webhook's key over
    `"{b64url(header)}.{b64url(claims)}"`, whose claims wrap the event: `{"url", "payload"}`."""
    header = _b64url(json.dumps({"alg": "HS512", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64url(json.dumps({"url": url, "payload": json.loads(event)}, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha512).digest()
    return f"{header}.{claims}.{_b64url(mac)}"


def _ed25519_key(seed: bytes | str):
    # `cryptography` comes with moto in .venv; imported here so the rest of this module stays stdlib.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    raw = bytes.fromhex(seed) if isinstance(seed, str) else seed
    return Ed25519PrivateKey.from_private_bytes(raw)


def telnyx_public_key(seed: bytes | str) -> str:
    """The account's Telnyx public key as the portal shows it (base64 of 32 bytes) for an
    Ed25519 private key `seed` (32 bytes, or 64 hex digits)."""
    from cryptography.hazmat.primitives import serialization
    public = _ed25519_key(seed).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(public).decode()


def sign_telnyx(seed: bytes | str, timestamp: int | str, body: bytes | str) -> str:
    """telnyx-signature-ed25519: base64(Ed25519(seed, "{telnyx-timestamp}|{raw body}"))."""
    raw = body.encode() if isinstance(body, str) else body
    return base64.b64encode(_ed25519_key(seed).sign(f"{timestamp}|".encode() + raw)).decode()


def _plivo_sorted_pairs(data: str) -> list[tuple[str, str]]:
    pairs = urllib.parse.parse_qsl(data, keep_blank_values=True, errors="replace")
    return sorted(pairs)  # by name, then value within a name


def plivo_v3_signed_string(url: str, body: bytes | str) -> str:
    """What Plivo V3 signs before `"." + nonce` for a form POST of `body` to `url`:
    `scheme://host/path`, then `?` + the query's pairs sorted and written `k=v` joined by `&`,
    then (`?` if no query was written, else `.`) + the body's pairs sorted and written `kv`."""
    text = body.decode() if isinstance(body, bytes) else body
    url = url.split("#", 1)[0]
    base, _, query = url.partition("?")
    scheme, sep, rest = base.partition("://")
    out = f"{scheme.lower()}://{rest}" if sep else base
    query_pairs = _plivo_sorted_pairs(query)
    params = _plivo_sorted_pairs(text)
    if query_pairs or params:
        out += "?"
    out += "&".join(f"{k}={v}" for k, v in query_pairs)
    if query_pairs and params:
        out += "."
    out += "".join(k + v for k, v in params)
    return out


def sign_plivo_v3(auth_token: str, url: str, body: bytes | str, nonce: str) -> str:
    """X-Plivo-Signature-V3: base64(HMAC-SHA256(auth token, signed string + "." + nonce))."""
    message = f"{plivo_v3_signed_string(url, body)}.{nonce}".encode()
    return base64.b64encode(hmac.new(auth_token.encode(), message, hashlib.sha256).digest()).decode()


def with_aircall_token(token: str | None, body: str) -> str:
    """Aircall signs nothing: it puts the webhook's `token` in every JSON body. Returns `body`
    with its top-level `token` set (or removed when `token` is None), otherwise unchanged."""
    value = json.loads(body)
    if token is None:
        value.pop("token", None)
    else:
        value["token"] = token  # keeps its place when the body already has one
    return json.dumps(value, separators=(",", ":"))


# -- event schemas ----------------------------------------------------------------------------

def assert_events_match_schemas(events: list[dict]) -> set[str]:
    """Every event (as `GET /_local/events` lists them) validates against its JSON Schema in
    events/schemas/{detail_type}.json (generated from shared/src/events.rs, which forbids
    undeclared properties). Returns the detail-types seen."""
    import jsonschema

    seen = set()
    for event in events:
        kind = event["detail_type"]
        path = ROOT / "events" / "schemas" / f"{kind}.json"
        assert path.exists(), f"no schema for {kind} in events/schemas"
        jsonschema.validate(event["detail"], json.loads(path.read_text()))
        seen.add(kind)
    return seen


def aws_client(service: str, moto_port: int):
    """A boto3 client of the local stack's moto (region eu-west-3, dummy credentials)."""
    import boto3
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="eu-west-3",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def table_items(moto_port: int) -> list[dict]:
    """Every item of the local stack's table (a paginated scan), in DynamoDB JSON."""
    dynamodb = aws_client("dynamodb", moto_port)
    items, start = [], {}
    while True:
        page = dynamodb.scan(TableName="rappel", **start)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
