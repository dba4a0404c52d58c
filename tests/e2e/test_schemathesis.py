"""Schemathesis: property-based requests generated from openapi/webhooks.yaml, against the
webhook routes on the local stack. Every response must be documented (status, content type,
problem schema) and none may be a server error, signed or not.

Two passes per operation: requests as generated (random or missing signatures: the
authentication path), and the same requests signed with the account's secret (so generated
bodies reach the parsers).
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

from rappel_stack import Stack, load_account, sign_generic, sign_twilio  # noqa: E402
import schemathesis.specs.openapi.checks as oc  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

SCHEMA = schemathesis.openapi.from_path(str(ROOT / "openapi" / "webhooks.yaml"))
SECRETS = load_account("demo")["webhook_secrets"]
EXAMPLES = 120
# Response checks: documented status code, content type, headers and body schema; never a 5xx.
# (Positive-data acceptance does not apply: schema-valid bodies without a valid signature are
# rightly refused with 401.)
CHECKS = [
    not_a_server_error,
    oc.status_code_conformance,
    oc.content_type_conformance,
    oc.response_headers_conformance,
    oc.response_schema_conformance,
]


@pytest.fixture(scope="module")
def stack():
    with Stack(port=3313, moto_port=5313, clock="2026-11-30T09:00:00Z") as s:
        yield s


def _encode(case) -> tuple[bytes, str]:
    media = case.media_type or "application/json"
    body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) or case.body is None else None
    if media.startswith("application/x-www-form-urlencoded"):
        fields = body if isinstance(body, dict) else {}
        return urllib.parse.urlencode({k: str(v) for k, v in fields.items()}).encode(), media
    return (b"" if body is None else json.dumps(body).encode()), media


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_webhooks_conform_signed_or_not(case, stack):
    case.path_parameters = {**(case.path_parameters or {}), "account_id": "demo"}
    body, media = _encode(case)
    url = stack.base + case.formatted_path
    provider = case.formatted_path.split("/")[2]
    for signed in (False, True):
        headers = {k: str(v) for k, v in (case.headers or {}).items()}
        headers["content-type"] = media
        if signed and provider == "twilio":
            headers["x-twilio-signature"] = sign_twilio(SECRETS["twilio"], url, body.decode())
        elif signed and provider == "generic":
            stamp = int(stack.now().timestamp())
            headers["x-rappel-timestamp"] = str(stamp)
            headers["x-rappel-signature"] = sign_generic(SECRETS["generic"], stamp, body.decode())
        response = requests.post(url, data=body, headers=headers, timeout=30)
        assert response.status_code < 500, response.text
        case.validate_response(response, checks=CHECKS)
