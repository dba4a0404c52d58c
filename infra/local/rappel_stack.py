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
                 accounts_dir: str | None = None, log_path: Path | None = None):
        self.port = port
        self.moto_port = moto_port
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
            with urllib.request.urlopen(req, timeout=60) as res:
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
