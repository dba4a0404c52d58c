"""Schemathesis: property-based requests generated from openapi/webhooks.yaml, against the
webhook routes of all six providers on the local stack. Every response must be documented
(status, content type, headers, problem schema) and none may be a server error.

Each generated request is sent twice: as generated (random or missing signatures: the
authentication path), and signed with the account's secret the way that provider signs (so
generated bodies reach the parsers). The tally per provider is printed at the end.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

import schemathesis.specs.openapi.checks as oc  # noqa: E402
from rappel_stack import (  # noqa: E402
    Stack, sign_generic, sign_plivo_v3, sign_ringover, sign_telnyx, sign_twilio, sign_vonage,
)
from schemathesis.checks import not_a_server_error  # noqa: E402

SCHEMA = schemathesis.openapi.from_path(str(ROOT / "openapi" / "webhooks.yaml"))
ACCOUNTS = ROOT / "tests" / "e2e" / "accounts"
SECRETS = json.loads((ACCOUNTS / "providers.json").read_text())["webhook_secrets"]
TELNYX_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")  # RFC 8032 test 1
EXAMPLES = 80
# Positive-data acceptance does not apply: schema-valid bodies without a valid signature are
# rightly refused with 401.
CHECKS = [
    not_a_server_error,
    oc.status_code_conformance,
    oc.content_type_conformance,
    oc.response_headers_conformance,
    oc.response_schema_conformance,
]
TALLY: dict[tuple[str, bool], dict[int, int]] = {}


@pytest.fixture(scope="module")
def stack():
    with Stack(port=3313, moto_port=5313, clock="2026-11-30T09:00:00Z", accounts_dir=str(ACCOUNTS)) as s:
        yield s
    for (provider, signed), statuses in sorted(TALLY.items()):
        print(f"schemathesis {provider:<8} {'signed  ' if signed else 'unsigned'} {dict(sorted(statuses.items()))}")


def _encode(case) -> tuple[bytes, str]:
    media = case.media_type or "application/json"
    body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) or case.body is None else None
    if media.startswith("application/x-www-form-urlencoded"):
        fields = body if isinstance(body, dict) else {}
        return urllib.parse.urlencode({k: str(v) for k, v in fields.items()}).encode(), media
    return (b"" if body is None else json.dumps(body).encode()), media


def _sign(provider: str, url: str, body: bytes, headers: dict, now: int, case) -> bytes:
    """Sign `body` as `provider` does; returns the body to send (Aircall carries its token)."""
    if provider == "twilio":
        headers["x-twilio-signature"] = sign_twilio(SECRETS["twilio"], url, body.decode())
    elif provider == "generic":
        headers["x-rappel-timestamp"] = str(now)
        headers["x-rappel-signature"] = sign_generic(SECRETS["generic"], now, body.decode())
    elif provider == "vonage":
        headers["authorization"] = "Bearer " + sign_vonage(SECRETS["vonage"][1], body, now)
    elif provider == "telnyx":
        headers["telnyx-timestamp"] = str(now)
        headers["telnyx-signature-ed25519"] = sign_telnyx(TELNYX_SEED, now, body)
    elif provider == "plivo":
        headers["x-plivo-signature-v3-nonce"] = "31415926"
        headers["x-plivo-signature-v3"] = sign_plivo_v3(SECRETS["plivo"], url, body, "31415926")
    elif provider == "ringover":
        # The event's own timestamp is the replay window; the JWT signs the event as sent.
        if isinstance(case.body, dict):
            body = json.dumps({**case.body, "timestamp": now}).encode()
        try:
            headers["x-ringover-webhook-signature"] = sign_ringover(SECRETS["ringover"], url, body.decode())
        except ValueError:
            pass  # not JSON: sent unsigned, refused
    elif provider == "aircall" and isinstance(case.body, dict):
        body = json.dumps({**case.body, "token": SECRETS["aircall"]}).encode()
    return body


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_webhooks_conform_signed_or_not(case, stack):
    case.path_parameters = {**(case.path_parameters or {}), "account_id": "providers"}
    generated, media = _encode(case)
    url = stack.base + case.formatted_path
    provider = case.formatted_path.split("/")[2]
    now = int(stack.now().timestamp())
    for signed in (False, True):
        headers = {k: str(v) for k, v in (case.headers or {}).items()}
        headers["content-type"] = media
        body = _sign(provider, url, generated, headers, now, case) if signed else generated
        response = requests.post(url, data=body, headers=headers, timeout=30)
        assert response.status_code < 500, response.text
        case.validate_response(response, checks=CHECKS)
        tally = TALLY.setdefault((provider, signed), {})
        tally[response.status_code] = tally.get(response.status_code, 0) + 1
