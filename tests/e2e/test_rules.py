"""Rule profiles and the grace delay, end to end on the local stack (issue 10).

One stack with seven accounts that differ only by their rules: `strict` (the default),
`late24` (af2m-2024), `late26` (af2m-2026), `sundays` (af2m-2026 opted in to Sundays and
holidays), `grace` (a 60-second grace delay), `qualified` (a missed-call qualifier: 3 s
minimum ring, an internal number, a blocked one) and `bound` (bound to one Twilio account
and two tracked numbers). The clock only moves forward, so the
scenario is one timeline.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from rappel_stack import Stack, load_account, rfc3339  # noqa: E402

SECRET = load_account("demo")["webhook_secrets"]["generic"]
JSON = {"content-type": "application/json"}
ACCOUNTS = {
    "strict": {},
    "late24": {"rule_profile": "af2m-2024"},
    "late26": {"rule_profile": "af2m-2026"},
    "sundays": {"rule_profile": "af2m-2026", "send_on_sundays_and_holidays": True},
    "grace": {"send_delay_seconds": 60},
    "qualified": {"min_ring_seconds": 3, "internal_numbers": ["+33600000420"], "blocked_numbers": ["06 00 00 04 21"]},
    "bound": {"provider_accounts": {"twilio": "AC5f1e3c9a7b2d4e6f8091a2b3c4d5e6f7"},
              "tracked_numbers": ["+33 1 44 00 00 00", "01 44 00 00 09"]},
}


def paris(y: int, m: int, d: int, h: int, mi: int, s: int = 0) -> datetime:
    """A Paris wall-clock instant in December (UTC+1), as UTC."""
    return datetime(y, m, d, h, mi, s, tzinfo=timezone.utc) - timedelta(hours=1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("accounts")
    demo = load_account("demo")
    for account_id, rules in ACCOUNTS.items():
        (accounts / f"{account_id}.json").write_text(json.dumps(demo | {"account_id": account_id} | rules))
    shutil.copy(ROOT / "infra" / "local" / "accounts" / "demo.json", accounts / "demo.json")
    with Stack(port=3319, moto_port=5319, clock=rfc3339(paris(2026, 12, 2, 9, 0)),
               accounts_dir=str(accounts)) as s:
        yield s


def call(stack: Stack, account: str, call_id: str, number: str, status: str = "no_answer",
         direction: str = "inbound", ring: int = 20, tracked: str = "+33144000000", expect: int = 200) -> None:
    at = rfc3339(stack.now())
    frm, to = (number, tracked) if direction == "inbound" else (tracked, number)
    body = json.dumps({"call_id": call_id, "direction": direction, "status": status, "from": frm, "to": to,
                       "started_at": at, "ended_at": at, "ring_seconds": ring})
    reply = stack.webhook("generic", account, body, JSON, SECRET)
    assert reply.status == expect, reply.text


def decision(stack: Stack, account: str, call_id: str) -> tuple:
    (c,) = [c for c in stack.calls(account) if c["call_id"] == call_id]
    return c["outcome"], c["reason"], c.get("due_at")


def texted(stack: Stack, number: str) -> int:
    return sum(1 for m in stack.outbox() if m["to"] == number)


def test_each_profile_at_its_edges_and_the_grace_delay(stack):
    thursday_8 = rfc3339(paris(2026, 12, 3, 8, 0))

    # Wednesday 2 December 21:29:59: inside af2m-2026 (and af2m-2024), outside strict.
    stack.set_clock(paris(2026, 12, 2, 21, 29, 59))
    call(stack, "late26", "w-2129-26", "+33600000401")
    call(stack, "late24", "w-2129-24", "+33600000402")
    call(stack, "strict", "w-2129-st", "+33600000403")
    stack.drain()
    assert decision(stack, "late26", "w-2129-26")[:2] == ("sent", "in_hours")
    assert decision(stack, "late24", "w-2129-24")[:2] == ("sent", "in_hours")
    assert decision(stack, "strict", "w-2129-st") == ("scheduled", "quiet_hours", thursday_8)
    assert texted(stack, "+33600000401") == 1 and texted(stack, "+33600000403") == 0

    # 21:30:00: af2m-2026's window is closed.
    stack.set_clock(paris(2026, 12, 2, 21, 30, 0))
    call(stack, "late26", "w-2130-26", "+33600000404")
    stack.drain()
    assert decision(stack, "late26", "w-2130-26") == ("scheduled", "quiet_hours", thursday_8)
    assert texted(stack, "+33600000404") == 0

    # 21:59 and 22:00 under af2m-2024.
    stack.set_clock(paris(2026, 12, 2, 21, 59, 0))
    call(stack, "late24", "w-2159-24", "+33600000405")
    stack.drain()
    assert decision(stack, "late24", "w-2159-24")[:2] == ("sent", "in_hours")
    stack.set_clock(paris(2026, 12, 2, 22, 0, 0))
    call(stack, "late24", "w-2200-24", "+33600000406")
    stack.drain()
    assert decision(stack, "late24", "w-2200-24") == ("scheduled", "quiet_hours", thursday_8)
    assert texted(stack, "+33600000405") == 1 and texted(stack, "+33600000406") == 0

    # Sunday 6 December 11:00: closed under every profile, unless the account opted in.
    monday_8 = rfc3339(paris(2026, 12, 7, 8, 0))
    stack.set_clock(paris(2026, 12, 6, 11, 0))
    for account, number in [("strict", "+33600000407"), ("late24", "+33600000408"), ("late26", "+33600000409"),
                            ("sundays", "+33600000410")]:
        call(stack, account, f"sun-{account}", number)
    stack.drain()
    for account in ["strict", "late24", "late26"]:
        assert decision(stack, account, f"sun-{account}") == ("scheduled", "quiet_hours", monday_8), account
    assert decision(stack, "sundays", "sun-sundays")[:2] == ("sent", "in_hours")
    assert texted(stack, "+33600000410") == 1 and texted(stack, "+33600000407") == 0

    # Monday 7 December 10:00, the grace account: two missed calls wait 60 s.
    stack.set_clock(paris(2026, 12, 7, 10, 0, 0))
    call(stack, "grace", "g-called-back", "+33600000411")
    call(stack, "grace", "g-not", "+33600000412")
    stack.drain()
    due = rfc3339(paris(2026, 12, 7, 10, 1, 0))
    assert decision(stack, "grace", "g-called-back") == ("scheduled", "in_hours", due)
    assert texted(stack, "+33600000411") == 0 and texted(stack, "+33600000412") == 0
    # 30 s later the business calls the first prospect back, who answers.
    stack.set_clock(paris(2026, 12, 7, 10, 0, 30))
    call(stack, "grace", "g-callback", "+33600000411", status="answered", direction="outbound")
    stack.drain()
    assert decision(stack, "grace", "g-called-back")[:2] == ("cancelled", "called_back")
    # Past the delay, the sweep sends the other one only.
    stack.set_clock(paris(2026, 12, 7, 10, 1, 30))
    stack.drain()
    assert texted(stack, "+33600000411") == 0
    assert texted(stack, "+33600000412") == 1
    assert decision(stack, "grace", "g-not")[:2] == ("sent", "in_hours")


def test_rappel_admin_why_shows_the_profile_the_window_and_the_planned_send(stack):
    import os
    import subprocess
    # After the timeline above (module order): the af2m-2026 call at 21:30:00 waited for 08:00.
    env = dict(os.environ, MOTO_PORT="5319")
    run = lambda *args: subprocess.run([str(ROOT / "target" / "debug" / "rappel-admin"), "--local", *args],  # noqa: E731
                                       capture_output=True, text=True, env=env, timeout=60)
    out = run("why", "--account", "late26", "generic#w-2130-26", "--json")
    assert out.returncode == 0, out.stderr
    why = json.loads(out.stdout)
    assert (why["profile"], why["profile_window"], why["window"]) == ("af2m-2026", "08:00–21:30", "08:00–21:30")
    assert why["planned_send"].startswith("2026-12-03T07:00:00Z (Thursday 03 December 08:00:00 Europe/Paris)")
    assert (why["outcome"], why["reason"]) == ("sent", "quiet_hours")
    text = run("why", "--account", "grace", "g-called-back")
    assert text.returncode == 0, text.stderr
    assert "grace delay   60 s" in text.stdout and "cancelled / called_back" in text.stdout
    assert "+33 6•• •• •• 11" in text.stdout and "600000411" not in text.stdout
    assert run("why", "--account", "late26", "nope").returncode == 1


def test_the_missed_call_qualifier_and_its_numbers_stored_as_hashes_only(stack):
    stack.set_clock(paris(2026, 12, 7, 11, 0, 0))
    call(stack, "qualified", "q-short", "+33600000422", ring=2)
    call(stack, "qualified", "q-internal", "+33600000420")
    call(stack, "qualified", "q-blocked", "+33600000421")
    call(stack, "qualified", "q-prospect", "+33600000423", ring=3)
    stack.drain()
    assert decision(stack, "qualified", "q-short")[:2] == ("ignored", "ring_too_short")
    assert decision(stack, "qualified", "q-internal")[:2] == ("ignored", "internal_number")
    assert decision(stack, "qualified", "q-blocked")[:2] == ("skipped", "blocked_number")
    assert decision(stack, "qualified", "q-prospect")[:2] == ("sent", "in_hours")
    assert [texted(stack, f"+3360000042{i}") for i in range(4)] == [0, 0, 0, 1]
    # The account item lists hashes, never the numbers the file gave.
    import boto3
    dynamodb = boto3.client("dynamodb", endpoint_url="http://127.0.0.1:5319", region_name="eu-west-3",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    item = dynamodb.get_item(TableName="rappel", Key={"PK": {"S": "ACCOUNT#qualified"}, "SK": {"S": "ACCOUNT"}})["Item"]
    settings = json.loads(item["settings"]["S"])
    assert [len(h) for h in settings["internal_numbers"] + settings["blocked_numbers"]] == [69, 69]
    assert all(h.startswith("hash:") for h in settings["internal_numbers"] + settings["blocked_numbers"])
    text = json.dumps(item)
    for number in ["600000420", "0600000420", "06 00 00 04 20", "600000421", "0600000421", "06 00 00 04 21"]:
        assert number not in text, "the account item holds a listed number in clear"


def test_a_webhook_bound_to_another_account_is_refused(stack):
    """`bound` is bound to one Twilio account and two tracked numbers: a correctly signed
    webhook naming another Twilio account, or a call on another tracked number, is answered
    403 `not-bound` and leaves no call; the account's own are stored as ever. An unknown
    account still gets the 401 of a bad signature."""
    stack.set_clock(paris(2026, 12, 8, 10, 0))  # a Tuesday, after the other tests' timeline
    twilio = load_account("demo")["webhook_secrets"]["twilio"]
    form = "AccountSid={sid}&CallSid=CA{n:032x}&CallStatus=completed&DialCallStatus=no-answer&Direction=inbound" \
           "&From=%2B3360000043{n}&To=%2B33144000000"
    form_headers = {"content-type": "application/x-www-form-urlencoded"}
    calls_before = len(stack.calls("bound"))

    other = stack.webhook("twilio", "bound", form.format(sid="AC" + "0" * 32, n=1), form_headers, twilio)
    assert other.status == 403, other.text
    assert other.json()["type"].endswith("not-bound")
    assert "provider_accounts" in other.json()["detail"]
    own = stack.webhook("twilio", "bound", form.format(sid="AC5f1e3c9a7b2d4e6f8091a2b3c4d5e6f7", n=2),
                        form_headers, twilio)
    assert own.status == 200, own.text

    call(stack, "bound", "untracked", "+33600000433", tracked="+33 1 44 00 00 01", expect=403)
    call(stack, "bound", "tracked-national", "+33600000434", tracked="+33144000009")
    stack.drain()
    assert "tracked-national" in {c["call_id"] for c in stack.calls("bound")}
    assert len(stack.calls("bound")) == calls_before + 2, "the two refused webhooks left no call"
    assert (texted(stack, "+33600000432"), texted(stack, "+33600000434")) == (1, 1)
    assert (texted(stack, "+33600000431"), texted(stack, "+33600000433")) == (0, 0)

    unknown = stack.webhook("generic", "no-such-account", json.dumps({"call_id": "x"}), JSON, SECRET)
    assert unknown.status == 401
