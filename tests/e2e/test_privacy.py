"""Privacy end to end through the local stack (issue 7): opt-outs from every channel honoured
before every send, including messages already deferred; the opt-out page outliving the booking
link; `rappel-admin subject export|erase`; the retention the README promises, as set on items.

The day: Friday 27 November 2026. Each prospect's first missed call (18:00 Paris) is texted at
once; a second one at 21:30 is deferred to Saturday 08:00 (a new local day). Then each opts out
by one channel, and on Saturday only the prospect who did not opt out gets the deferred SMS.
Numbers are DESIGN's test numbers only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from rappel_stack import assert_events_match_schemas, Stack, load_account, parse_instant, rfc3339, slots_on_page, token_from_sms  # noqa: E402

PORT, MOTO_PORT = 3321, 5321
FRIDAY_1800 = "2026-11-27T17:00:00Z"
FRIDAY_2130 = "2026-11-27T20:30:00Z"
SATURDAY_0900 = "2026-11-28T08:00:00Z"
MONDAY_1000 = "2026-11-30T09:00:00Z"
SHORT_CODE = "36173"

DEMO_SECRET = load_account("demo")["webhook_secrets"]["generic"]
SHORT_CODE_ACCOUNT = {
    "account_id": "serrurerie",
    "company_name": "Serrurerie Dupont",
    "short_code": SHORT_CODE,
    "webhook_secrets": {"generic": "serrurerie-generic-secret"},
}
SECRET = {"demo": DEMO_SECRET, "serrurerie": "serrurerie-generic-secret"}

PAGE = "+33600000301"      # opts out on the {optout} page
REPLY = "+33600000302"     # replies STOP to the short code
CARRIER = "+33600000303"   # on the operator's STOP list
CONTROL = "+33600000304"   # does nothing: gets the deferred SMS
EXPIRED = "+33600000305"   # opts out after the booking link is gone
SUBJECT = "+33600000306"   # asks for a copy of their data, then its erasure
BOOKER = "+33600000307"    # books a callback
JSON_HEADERS = {"content-type": "application/json"}


def call(stack: Stack, account: str, call_id: str, number: str) -> None:
    at = rfc3339(stack.now())
    body = json.dumps({"call_id": call_id, "direction": "inbound", "status": "no_answer", "from": number,
                       "to": "+33144000000", "started_at": at, "ended_at": at, "ring_seconds": 20})
    reply = stack.webhook("generic", account, body, JSON_HEADERS, SECRET[account])
    assert reply.status == 200, reply.text


def decision(stack: Stack, account: str, call_id: str) -> tuple[str, str]:
    [row] = [c for c in stack.calls(account) if c["call_id"] == call_id]
    return row["outcome"], row["reason"]


def sms_to(stack: Stack, number: str) -> list[dict]:
    return [sms for sms in stack.outbox() if sms["to"] == number]


def optout_token(body: str) -> str:
    match = re.search(r"/o/([A-Za-z0-9_-]{22})", body)
    assert match, "no opt-out link in the SMS"
    return match.group(1)


def admin(*args: str, stdin: str | None = None) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ, MOTO_PORT=str(MOTO_PORT))
    return subprocess.run([str(ROOT / "target" / "debug" / "rappel-admin"), "--local", *args],
                          capture_output=True, text=True, env=env, timeout=120, input=stdin)


def dynamodb():
    return boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{MOTO_PORT}", region_name="eu-west-3",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def table_items() -> list[dict]:
    items, start = [], {}
    while True:
        page = dynamodb().scan(TableName="rappel", **start)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("accounts")
    shutil.copy(ROOT / "infra" / "local" / "accounts" / "demo.json", accounts / "demo.json")
    (accounts / "serrurerie.json").write_text(json.dumps(SHORT_CODE_ACCOUNT))
    log = tmp_path_factory.mktemp("logs") / "rappel-local.log"
    with Stack(port=PORT, moto_port=MOTO_PORT, clock=FRIDAY_1800, accounts_dir=str(accounts), log_path=log) as s:
        s.log = log
        yield s


def test_each_opt_out_channel_stops_every_further_sms_including_one_already_deferred(stack, tmp_path):
    people = [("demo", PAGE), ("serrurerie", REPLY), ("demo", CARRIER), ("demo", CONTROL)]
    for account, number in people:
        call(stack, account, f"first-{number[-2:]}", number)
    stack.drain()
    for account, number in people:
        [sms] = sms_to(stack, number)
        assert decision(stack, account, f"first-{number[-2:]}") == ("sent", "in_hours")
    # The opt-out mention works for the sender used: a link from the sender ID, STOP to the code.
    page_sms = sms_to(stack, PAGE)[0]
    assert page_sms["sender_id"] == "PlombMartin"
    assert "/o/" in page_sms["body"] and "STOP au" not in page_sms["body"]
    reply_sms = sms_to(stack, REPLY)[0]
    assert reply_sms["sender_id"] == SHORT_CODE
    assert f"STOP au {SHORT_CODE}" in reply_sms["body"] and "/o/" not in reply_sms["body"]

    stack.set_clock(FRIDAY_2130)
    for account, number in people:
        call(stack, account, f"night-{number[-2:]}", number)
    stack.drain()
    for account, number in people:
        assert decision(stack, account, f"night-{number[-2:]}") == ("scheduled", "quiet_hours")

    # 1. The page: the SMS's {optout} link asks, the confirmation opts out.
    token = optout_token(page_sms["body"])
    confirm = stack.request("GET", f"/o/{token}")
    assert confirm.status == 200 and f'action="{stack.base}/o/{token}"' in confirm.text
    done = stack.request("POST", f"/o/{token}", "", {"content-type": "application/x-www-form-urlencoded"})
    assert done.status == 200 and "Vous ne recevrez plus de SMS de Plomberie Martin" in done.text
    # 2. A STOP reply to the short code (any case, accents, surrounding text).
    answer = stack.post_json("/_local/sms/inbound", {
        "originationNumber": REPLY, "destinationNumber": SHORT_CODE, "messageKeyword": "KEYWORD_0",
        "messageBody": "Arrêt svp", "inboundMessageId": "in-302", "previousPublishedMessageId": "p-302"})
    assert answer.status == 200, answer.text
    assert answer.json() == {"records": 1, "stop_requests": 1, "opt_outs": 1, "skipped": 0}
    # 3. The operator's STOP list, imported for every account sending from... the demo account.
    stop_list = tmp_path / "stop-list.csv"
    stop_list.write_text("msisdn;date\n06 00 00 03 03;2026-11-27\n")
    imported = admin("opt-out", "import", "--account", "demo", "--file", str(stop_list))
    assert imported.returncode == 0, imported.stderr
    assert "1 number(s), 1 new opt-out(s) (carrier_list)" in imported.stdout
    listed = json.loads(admin("opt-out", "list", "--account", "demo", "--json").stdout)
    assert sorted(row["source"] for row in listed) == ["carrier_list", "link"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", row["caller_hash"]) for row in listed)

    stack.set_clock(SATURDAY_0900)
    stack.drain()
    assert len(sms_to(stack, CONTROL)) == 2, "the deferred SMS of who did not opt out leaves"
    for account, number in people[:3]:
        assert len(sms_to(stack, number)) == 1, f"{account}: no SMS after the opt-out"
        assert decision(stack, account, f"night-{number[-2:]}") == ("cancelled", "opted_out")
    # And a new call is skipped at once.
    for account, number in people[:3]:
        call(stack, account, f"saturday-{number[-2:]}", number)
    stack.drain()
    for account, number in people[:3]:
        assert decision(stack, account, f"saturday-{number[-2:]}") == ("skipped", "opted_out")
    # The STOP to 36173 opted out of that code's account only.
    call(stack, "demo", "other-account-302", REPLY)
    stack.drain()
    assert decision(stack, "demo", "other-account-302") == ("sent", "in_hours")


def test_the_opt_out_page_works_after_the_booking_link_is_gone(stack):
    call(stack, "demo", "expired-1", EXPIRED)
    stack.drain()
    [sms] = sms_to(stack, EXPIRED)
    token = token_from_sms(sms["body"])
    assert optout_token(sms["body"]) == token
    # DynamoDB's TTL deletes the booking link (8 days after it was due): played here by hand.
    dynamodb().delete_item(TableName="rappel", Key={"PK": {"S": f"LINK#{token}"}, "SK": {"S": "LINK"}})
    opted_before = [e for e in stack.events() if e["detail_type"] == "OptedOut"]
    assert stack.request("GET", f"/r/{token}").status == 404
    assert stack.request("GET", f"/o/{token}").status == 200
    done = stack.request("POST", f"/r/{token}/opt-out", "", {"content-type": "application/x-www-form-urlencoded"})
    assert done.status == 200 and "Vous ne recevrez plus de SMS" in done.text
    opted = [e for e in stack.events() if e["detail_type"] == "OptedOut"][len(opted_before):]
    assert [(e["detail"]["source"], e["detail"]["message_id"]) for e in opted] == [("link", sms["message_id"])]
    stack.set_clock(stack.now() + timedelta(days=1))
    call(stack, "demo", "expired-2", EXPIRED)
    stack.drain()
    assert decision(stack, "demo", "expired-2") == ("skipped", "opted_out")


def test_subject_export_then_erase_leaves_only_the_opt_out_tombstone(stack):
    stack.set_clock(MONDAY_1000)
    call(stack, "demo", "subject-1", SUBJECT)
    stack.drain()
    [sms] = sms_to(stack, SUBJECT)
    token = token_from_sms(sms["body"])
    slot = slots_on_page(stack.request("GET", f"/r/{token}").text)[0]
    booked = stack.request("POST", f"/r/{token}", f"slot={slot.replace(':', '%3A')}&name=Camille",
                           {"content-type": "application/x-www-form-urlencoded"})
    assert booked.status == 200

    exported = admin("subject", "export", "--account", "demo", "--number", "06 00 00 03 06")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["number"] == SUBJECT
    assert [c["call_id"] for c in data["calls"]] == ["subject-1"]
    assert [m["number"] for m in data["messages"]] == [SUBJECT], "sealed numbers opened"
    assert sorted(link["SK"] for link in data["links"]) == ["LINK", "OPTOUT"]
    [booking] = data["bookings"]
    assert booking["booking"]["name"] == "Camille"
    assert "vous demandez à Plomberie Martin de vous rappeler" in booking["consent"]["text"]
    assert booking["consent"]["language"] == "fr" and len(booking["consent"]["page_version"]) == 16
    assert "audit: SubjectExported" in exported.stderr and SUBJECT not in exported.stderr
    hash_ = data["caller_hash"]

    # The person also opts out, then asks for erasure.
    stack.request("POST", f"/o/{token}", "", {"content-type": "application/x-www-form-urlencoded"})
    assert admin("subject", "erase", "--account", "demo", "--number", SUBJECT).returncode == 2, "needs --yes"
    erased = admin("subject", "erase", "--account", "demo", "--number", SUBJECT, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "the opt-out is kept as a hash tombstone" in erased.stdout
    assert SUBJECT not in erased.stdout + erased.stderr

    # A scan of the table: no ciphertext and no hash of that number but the tombstone.
    left = [i for i in table_items() if hash_ in json.dumps(i)]
    assert [(i["PK"]["S"], i["SK"]["S"]) for i in left] == [("ACCOUNT#demo", f"OPTOUT#{hash_}")]
    assert set(left[0]) == {"PK", "SK", "caller_hash", "source", "opted_out_at"}
    again = json.loads(admin("subject", "export", "--account", "demo", "--number", SUBJECT).stdout)
    assert again["items"] == 1 and len(again["opt_outs"]) == 1
    # The opt-out still holds.
    stack.set_clock(stack.now() + timedelta(days=1))
    call(stack, "demo", "subject-2", SUBJECT)
    stack.drain()
    assert decision(stack, "demo", "subject-2") == ("skipped", "opted_out")


def readme_retention() -> dict[str, int | None]:
    """The README's "Retention" table: item → days (None: until erased)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Retention", 1)[1].split("\n#", 1)[0]
    kept = {}
    for row in re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", section, flags=re.M):
        item, duration = row
        days = re.match(r"(\d+) (day|year)s?", duration.strip())
        kept[item] = None if days is None else int(days.group(1)) * (365 if days.group(2) == "year" else 1)
    return kept


def test_items_expire_when_the_readme_says(stack):
    """Every item the scenario above left carries the TTL of the README's retention table,
    measured from its anchor (receipt, due instant, its day, last contact)."""
    kept = readme_retention()
    assert kept["CALL#"] == 30 and kept["OPTOUT#"] is None and kept["BOOKING#"] == 3 * 365
    # One more booking (the subject's was erased), visited again a day later.
    call(stack, "demo", "retention-1", BOOKER)
    stack.drain()
    token = token_from_sms(sms_to(stack, BOOKER)[0]["body"])
    slot = slots_on_page(stack.request("GET", f"/r/{token}").text)[-1]
    # Booked to be called on another number: its sealed NUMBER# item is kept too.
    assert stack.request("POST", f"/r/{token}", f"slot={slot.replace(':', '%3A')}&phone=07+50+00+00+09",
                         {"content-type": "application/x-www-form-urlencoded"}).status == 200
    stack.set_clock(stack.now() + timedelta(days=1))
    assert stack.request("GET", f"/r/{token}").status == 200
    # An answered call: the caller's last human contact.
    at = rfc3339(stack.now())
    answered = json.dumps({"call_id": "retention-answered", "direction": "inbound", "status": "answered",
                           "from": BOOKER, "to": "+33144000000", "started_at": at, "ended_at": at})
    assert stack.webhook("generic", "demo", answered, JSON_HEADERS, SECRET["demo"]).status == 200
    stack.drain()
    due_of, valid_until_of = {}, {}
    for item in table_items():
        if item["SK"]["S"].startswith("MSG#"):
            due_of[item["token"]["S"]] = parse_instant(item["due_at"]["S"])
        if item["SK"]["S"] == "LINK" and "booking" in item:
            valid_until_of[item["booking"]["M"]["booking_id"]["S"]] = parse_instant(item["valid_until"]["S"])
    day = 86_400
    checked = set()
    for item in table_items():
        sk, pk = item["SK"]["S"], item["PK"]["S"]
        expires = int(item["expires_at"]["N"]) if "expires_at" in item else None
        at = lambda name: int(parse_instant(item[name]["S"]).timestamp())  # noqa: E731
        if sk.startswith("CALL#"):
            kind, anchor = "CALL#", at("received_at")
        elif sk.startswith("MSG#"):
            kind, anchor = "MSG#", at("due_at")
        elif pk.startswith("LINK#") and sk.startswith("RATE#"):
            # Kept a day after its 10-minute window ends.
            kind, anchor = "LINK# / RATE#", int(parse_instant(sk[5:]).timestamp()) + 600
        elif pk.startswith("LINK#"):
            kind = "LINK#" if sk == "LINK" else "LINK# / OPTOUT"
            anchor = int(due_of[pk[5:]].timestamp())
        elif sk.startswith(("DAY#", "CAP#")):
            kind = sk.split("#", 1)[0] + "#"
            date = datetime.fromisoformat(sk.rsplit("#", 1)[1]).replace(tzinfo=timezone.utc)
            anchor = int((date + timedelta(days=1)).timestamp())  # kept N days after the day ends
        elif sk.startswith("SLOT#"):
            kind, anchor = "SLOT#", int(parse_instant(sk[5:]).timestamp())
        elif sk.startswith("NUMBER#"):
            # Kept after the last instant its booking's slot can start: the link's validity.
            kind, anchor = "NUMBER#", int(valid_until_of[item["booking_id"]["S"]].timestamp())
        elif sk.startswith(("CONTACT#", "BOOKING#")):
            kind, anchor = sk.split("#", 1)[0] + "#", at("last_contact_at")
        elif sk.startswith(("OPTOUT#", "ACCOUNT")) or pk.startswith("REPLY#"):
            kind = "OPTOUT#" if sk.startswith("OPTOUT#") else ("REPLY#" if pk.startswith("REPLY#") else "ACCOUNT")
            assert expires is None, f"{kind} is kept until erased"
            checked.add(kind)
            continue
        else:
            continue
        assert expires is not None, f"{kind} has no TTL"
        assert expires - anchor == kept[kind] * day, f"{kind}: {(expires - anchor) / day} days, README {kept[kind]}"
        checked.add(kind)
    # LEG# and PENDING# (Vonage, Telnyx legs) are checked by webhook-intake's handler tests.
    assert {"CALL#", "MSG#", "LINK#", "LINK# / OPTOUT", "LINK# / RATE#", "DAY#", "CAP#", "SLOT#", "CONTACT#", "BOOKING#",
            "NUMBER#", "OPTOUT#", "ACCOUNT", "REPLY#"} <= checked, checked


def test_template_allows_every_aws_call_the_privacy_scenario_made(stack):
    """The calls inbound-sms and the opt-out pages made above are allowed by template.yaml
    (moto does not enforce IAM); test_pipeline.py checks the rest of the pipeline the same way."""
    from test_pipeline import _template_actions

    function_of = {"webhook-intake": "WebhookIntakeFunction", "eligibility": "EligibilityFunction",
                   "eligibility:redecide": "EligibilityFunction",
                   "sender:MessageDue": "SenderFunction", "sender:sweep": "SenderFunction",
                   "booking": "BookingFunction", "inbound-sms": "InboundSmsFunction"}
    prefix = {"DynamoDB": "dynamodb", "KMS": "kms", "SNS": "sns", "EventBridge": "events"}
    allowed = _template_actions()
    made = stack.get_json("/_local/aws-calls")
    assert {"inbound-sms", "booking"} <= {c["function"] for c in made}
    missing = [(c["function"], f"{prefix[c['service']]}:{c['operation']}") for c in made
               if c["operation"] != "TransactWriteItems"
               and f"{prefix[c['service']]}:{c['operation']}" not in allowed[function_of[c["function"]]]]
    assert missing == [], f"template.yaml lacks: {sorted(set(missing))}"


def test_every_event_of_the_scenario_matches_its_schema(stack):
    seen = assert_events_match_schemas(stack.events())
    assert {"MessageDue", "SmsSent", "OptedOut", "CallbackRequested"} <= seen, seen
