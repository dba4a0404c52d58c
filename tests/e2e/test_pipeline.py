"""End to end through the local stack: real provider webhooks in, SMS and events out.

Each module-level stack runs `rappel-local` (which starts its own moto) on ports away from
`make local`. Numbers are DESIGN's test numbers only.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.parse
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

import demo  # noqa: E402
from rappel_stack import Stack, assert_events_match_schemas, load_account, rfc3339, parse_instant, slots_on_page, token_from_sms  # noqa: E402

SECRETS = load_account("demo")["webhook_secrets"]
TEST_NUMBERS = [f"+336000000{i:02d}" for i in range(100)] + ["+33750000004", "+33144000101", "+33144000000",
                                                              "+262692000007"]


def digits_forms(e164: str) -> list[str]:
    """Ways a number could appear in clear: E.164 without '+', national with 0, spaced."""
    national = "0" + e164[3:] if e164.startswith("+33") else e164[1:]
    spaced = " ".join(national[i:i + 2] for i in range(0, len(national), 2))
    return [e164[1:], national, spaced]


def assert_no_clear_number(text: str, where: str) -> None:
    for number in TEST_NUMBERS:
        for form in digits_forms(number):
            assert form not in text, f"{where} contains a test number in clear"


def generic_call(call_id: str, frm: str, status: str, at: str, direction: str = "inbound",
                 to: str = "+33144000000") -> str:
    return json.dumps({"call_id": call_id, "direction": direction, "status": status, "from": frm, "to": to,
                       "started_at": at, "ended_at": at, "ring_seconds": 20})


JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """The `make demo` scenario, replayed once for the tests that read its results."""
    lines: list[str] = []
    log = tmp_path_factory.mktemp("logs") / "runner.log"
    with Stack(port=3311, moto_port=5311, clock=demo.START, log_path=log) as stack:
        rows = demo.run(stack, out=lines.append)
        event = demo.book(stack, out=lines.append)
        yield {"stack": stack, "rows": rows, "event": event, "output": "\n".join(lines), "log": log}


def test_every_demo_call_gets_its_expected_outcome(scenario):
    wrong = [(r["fixture"], r["expect"], [r["call"]["outcome"], r["call"]["reason"]]) for r in scenario["rows"] if not r["ok"]]
    assert wrong == []
    assert len(scenario["rows"]) == 15


def test_deferred_messages_leave_at_their_due_time(scenario):
    calls = {r["fixture"]: r["call"] for r in scenario["rows"]}
    # Saturday evening → Monday 08:00 Paris; Christmas Eve → Saturday 26 Dec 08:00; night → Saturday 08:00.
    assert calls["12-saturday-evening"]["sent_at"] == "2026-11-30T07:00:00Z"
    assert calls["15-christmas-eve"]["sent_at"] == "2026-12-26T07:00:00Z"
    assert calls["08-night"]["sent_at"] == "2026-11-28T07:00:00Z"
    # Réunion: 08:00 in Indian/Reunion (UTC+4).
    assert calls["06-reunion-evening"]["sent_at"] == "2026-11-28T04:00:00Z"
    # 19:59 Paris is still inside the window.
    assert calls["07-just-before-20h"]["sent_at"] == "2026-11-27T18:59:00Z"


def test_one_sms_per_caller_and_the_text_names_sender_and_opt_out(scenario):
    outbox = scenario["stack"].outbox()
    assert len(outbox) == 6
    assert len({sms["to"] for sms in outbox}) == 6, "nobody got two SMS"
    for sms in outbox:
        assert sms["sender_id"] == "PlombMartin"
        assert sms["body"].startswith("Plomberie Martin : ")
        assert "/r/" in sms["body"]
        # The sender ID cannot receive a STOP reply: the opt-out is the {optout} link.
        assert "Stop SMS : " in sms["body"] and "/o/" in sms["body"]


def test_every_event_of_the_demo_matches_its_schema(scenario):
    seen = assert_events_match_schemas(scenario["stack"].events())
    assert {"MessageDue", "SmsSent", "CallbackRequested"} <= seen, seen


def test_booking_emits_callback_requested_once(scenario):
    stack, event = scenario["stack"], scenario["event"]
    detail = event["detail"]
    assert detail["booking_id"].startswith("bkg_")
    assert detail["account_id"] == "demo"
    assert detail["name"] == "Camille"
    assert detail["caller"] == "+33 6•• •• •• 09"
    token = token_from_sms(stack.outbox()[-1]["body"])
    again = stack.request("POST", f"/r/{token}", urllib.parse.urlencode({"slot": detail["slot"], "name": "Camille"}),
                          {"content-type": "application/x-www-form-urlencoded"})
    assert again.status == 200
    booked = [e for e in stack.events() if e["detail_type"] == "CallbackRequested"]
    assert len(booked) == 1, "a resubmission gives the same booking and no second event"


def test_no_number_in_clear_in_output_logs_or_table(scenario):
    assert_no_clear_number(scenario["output"], "make demo output")
    # The start-up banner shows a sample curl with a test number on purpose; what the functions
    # log while working comes after it.
    log = scenario["log"].read_text().split("Control routes:", 1)[1]
    assert "call stored" in log and "SMS sent" in log
    assert_no_clear_number(log, "runner log")
    dynamodb = boto3.client("dynamodb", endpoint_url="http://127.0.0.1:5311", region_name="eu-west-3",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    items = dynamodb.scan(TableName="rappel")["Items"]
    assert len(items) > 30
    assert_no_clear_number(json.dumps(items), "the DynamoDB table")
    for secret in ("demo-twilio-auth-token", "demo-generic-secret"):
        assert secret not in json.dumps(items), "webhook secrets are stored sealed"


# ----------------------------------------------------------------------------------------- #

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack with the demo account and one that shreds numbers after sending."""
    accounts = tmp_path_factory.mktemp("accounts")
    shutil.copy(ROOT / "infra" / "local" / "accounts" / "demo.json", accounts / "demo.json")
    shred = load_account("demo") | {"account_id": "shredder", "shred_number_after_send": True}
    (accounts / "shredder.json").write_text(json.dumps(shred))
    with Stack(port=3312, moto_port=5312, clock="2026-11-30T09:00:00Z", accounts_dir=str(accounts)) as s:
        yield s


def table_items(port: int = 5312) -> list:
    dynamodb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="eu-west-3",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return dynamodb.scan(TableName="rappel")["Items"]


def test_aws_calls_per_missed_call(stack):
    # Warm up: the first webhook of an account opens its sealed secrets and its caller-hash
    # key (one KMS Decrypt each per account per container), and takes the data key that seals
    # its callers' numbers for the next 5 minutes or 1,000 numbers (the sender keeps it opened
    # as long); what follows is the steady state: no KMS call at all.
    warm = generic_call("count-0", "+33600000030", "no_answer", rfc3339(stack.now()))
    assert stack.webhook("generic", "demo", warm, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    before = {(c["function"], c["service"], c["operation"]): c["count"] for c in stack.get_json("/_local/aws-calls")}
    now = rfc3339(stack.now())
    reply = stack.webhook("generic", "demo", generic_call("count-1", "+33600000031", "no_answer", now), JSON, SECRETS["generic"])
    assert reply.status == 200, reply.text
    stack.drain()
    after = stack.get_json("/_local/aws-calls")
    diff = {}
    for c in after:
        key = (c["function"], c["service"], c["operation"])
        n = c["count"] - before.get(key, 0)
        if n and c["function"] not in ("sender:sweep", "eligibility:redecide"):
            diff[key] = n
    per_service: dict[str, int] = {}
    for (_, service, _), n in diff.items():
        per_service[service] = per_service.get(service, 0) + n
    report = ROOT / ".local" / "aws-calls-per-missed-call.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps({"per_service": per_service,
                                  "per_call": [{"function": f, "service": s, "operation": o, "count": n}
                                               for (f, s, o), n in sorted(diff.items())]}, indent=2))
    print(f"\nAWS calls per missed call (warm, account cache off): {per_service}")
    assert diff == {
        ("webhook-intake", "DynamoDB", "GetItem"): 1,
        ("webhook-intake", "DynamoDB", "PutItem"): 1,
        ("eligibility", "DynamoDB", "GetItem"): 1,
        ("eligibility", "DynamoDB", "TransactWriteItems"): 1,
        ("eligibility", "EventBridge", "PutEvents"): 1,
        ("sender:MessageDue", "DynamoDB", "UpdateItem"): 1,
        ("sender:MessageDue", "DynamoDB", "GetItem"): 1,
        ("sender:MessageDue", "DynamoDB", "BatchGetItem"): 1,
        ("sender:MessageDue", "SNS", "CheckIfPhoneNumberIsOptedOut"): 1,
        ("sender:MessageDue", "SNS", "Publish"): 1,
        ("sender:MessageDue", "DynamoDB", "TransactWriteItems"): 1,
        ("sender:MessageDue", "EventBridge", "PutEvents"): 1,
    }


@pytest.mark.parametrize("case", ["unknown-account", "unknown-provider", "bad-signature", "wrong-secret",
                                  "stale-timestamp", "malformed", "too-large", "not-post", "twilio-tampered"])
def test_refused_webhooks_answer_a_problem_and_store_nothing(stack, case):
    now = rfc3339(stack.now())
    body = generic_call(f"refused-{case}", "+33600000032", "no_answer", now)
    calls_before = len(stack.calls("demo"))
    if case == "unknown-account":
        # Answered as a wrong secret is (below): the route does not tell which accounts exist.
        reply, status = stack.webhook("generic", "nobody", body, JSON, SECRETS["generic"]), 401
        wrong = stack.webhook("generic", "demo", body, JSON, "not-the-secret")
        assert (reply.status, reply.json()) == (wrong.status, wrong.json())
    elif case == "unknown-provider":
        reply, status = stack.webhook("skype", "demo", body, JSON, SECRETS["generic"]), 404
    elif case == "bad-signature":
        reply, status = stack.webhook("generic", "demo", body, {**JSON, "x-rappel-timestamp": str(int(stack.now().timestamp())),
                                                               "x-rappel-signature": "v1=" + "0" * 64}, None), 401
    elif case == "wrong-secret":
        reply, status = stack.webhook("generic", "demo", body, JSON, "not-the-secret"), 401
    elif case == "stale-timestamp":
        stamp = int(stack.now().timestamp()) - 301
        from rappel_stack import sign_generic
        reply, status = stack.webhook("generic", "demo", body, {**JSON, "x-rappel-timestamp": str(stamp),
                                                               "x-rappel-signature": sign_generic(SECRETS["generic"], stamp, body)}, None), 401
    elif case == "malformed":
        reply, status = stack.webhook("generic", "demo", '{"call_id": 12, "status": "maybe"}', JSON, SECRETS["generic"]), 400
    elif case == "too-large":
        reply, status = stack.webhook("generic", "demo", body + " " * (65 * 1024), JSON, SECRETS["generic"]), 413
    elif case == "not-post":
        reply, status = stack.request("GET", "/webhooks/generic/demo"), 405
    else:
        form = "CallSid=CA00000000000000000000000000000042&Direction=inbound&From=%2B33600000033&To=%2B33144000000&DialCallStatus=no-answer"
        signed = stack.webhook("twilio", "demo", form, {"content-type": "application/x-www-form-urlencoded"}, SECRETS["twilio"])
        assert signed.status == 200
        tampered = form.replace("no-answer", "busy").replace("42", "43")
        from rappel_stack import sign_twilio
        signature = sign_twilio(SECRETS["twilio"], stack.base + "/webhooks/twilio/demo", form)
        reply = stack.request("POST", "/webhooks/twilio/demo", tampered,
                              {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature})
        status, calls_before = 401, calls_before + 1
    assert reply.status == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["status"] == status and problem["type"].startswith("urn:rappel:problem:")
    assert_no_clear_number(reply.text, "problem body")
    stack.drain()
    assert len(stack.calls("demo")) == calls_before, "a refused webhook leaves no trace"


def test_redelivery_is_acknowledged_and_changes_nothing(stack):
    now = rfc3339(stack.now())
    body = generic_call("redelivered-1", "+33600000034", "no_answer", now)
    assert stack.webhook("generic", "demo", body, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    first = [c for c in stack.calls("demo") if c["call_id"] == "redelivered-1"]
    changed = generic_call("redelivered-1", "+33600000034", "answered", now)
    assert stack.webhook("generic", "demo", changed, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    assert [c for c in stack.calls("demo") if c["call_id"] == "redelivered-1"] == first
    assert first[0]["outcome"] == "sent"


def test_opt_out_cancels_and_blocks_later_messages(stack):
    # A missed call in the evening is deferred; the caller opts out from... a previous SMS.
    now = stack.now()
    body = generic_call("optout-1", "+33600000035", "no_answer", rfc3339(now))
    assert stack.webhook("generic", "demo", body, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    sms = [s for s in stack.outbox() if s["to"] == "+33600000035"]
    assert len(sms) == 1
    token = token_from_sms(sms[0]["body"])
    page = stack.request("GET", f"/r/{token}")
    assert page.status == 200 and "Plomberie Martin" in page.text and slots_on_page(page.text)
    assert 'checked' not in " ".join(t for t in page.text.split("<input")[1:] if 'name="slot"' in t)
    out = stack.request("POST", f"/r/{token}/opt-out", "", {"content-type": "application/x-www-form-urlencoded"})
    assert out.status == 200
    assert any(e["detail_type"] == "OptedOut" for e in stack.events())
    # The next day the same person calls again: no SMS.
    stack.set_clock(parse_instant(rfc3339(now)).replace(hour=9) .__add__(__import__("datetime").timedelta(days=1)))
    body = generic_call("optout-2", "+33600000035", "no_answer", rfc3339(stack.now()))
    assert stack.webhook("generic", "demo", body, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    call = [c for c in stack.calls("demo") if c["call_id"] == "optout-2"][0]
    assert (call["outcome"], call["reason"]) == ("skipped", "opted_out")
    assert stack.request("GET", "/r/AAAAAAAAAAAAAAAAAAAAAA").status == 404


def test_carrier_opt_out_is_honoured_before_sending(stack):
    body = generic_call("stop-1", "+33600000099", "no_answer", rfc3339(stack.now()))
    assert stack.webhook("generic", "demo", body, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    call = [c for c in stack.calls("demo") if c["call_id"] == "stop-1"][0]
    assert (call["outcome"], call["reason"]) == ("cancelled", "opted_out")
    assert not [s for s in stack.outbox() if s["to"] == "+33600000099"]


def test_shred_number_after_send(stack):
    body = generic_call("shred-1", "+33600000036", "no_answer", rfc3339(stack.now()))
    assert stack.webhook("generic", "shredder", body, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    call = [c for c in stack.calls("shredder") if c["call_id"] == "shred-1"][0]
    assert call["outcome"] == "sent"
    items = [i for i in table_items() if i["PK"]["S"] == "ACCOUNT#shredder" and i["SK"]["S"].startswith(("CALL#", "MSG#"))]
    assert len(items) == 2
    assert all("number" not in i for i in items), "the decryptable copy is destroyed once sent"


def test_the_clock_never_goes_backwards(stack):
    reply = stack.post_json("/_local/clock", {"now": "2020-01-01T00:00:00Z"})
    assert reply.status == 409


def admin(*args: str, moto_port: int = 5312) -> "subprocess.CompletedProcess[str]":
    import os
    import subprocess
    env = dict(os.environ, MOTO_PORT=str(moto_port))
    return subprocess.run([str(ROOT / "target" / "debug" / "rappel-admin"), "--local", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_rappel_admin_answers_why_a_caller_did_not_get_an_sms(stack, tmp_path):
    body = generic_call("admin-1", "+33600000037", "no_answer", rfc3339(stack.now()))
    assert stack.webhook("generic", "demo", body, JSON, SECRETS["generic"]).status == 200
    body = generic_call("admin-2", "+33600000037", "busy", rfc3339(stack.now()))
    assert stack.webhook("generic", "demo", body, JSON, SECRETS["generic"]).status == 200
    stack.drain()

    out = admin("calls", "--account", "demo", "--caller", "06 00 00 00 37", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    rows = rows["calls"] if isinstance(rows, dict) else rows
    decided = sorted((r["call_id"], r["outcome"], r["reason"]) for r in rows)
    assert decided == [("admin-1", "sent", "in_hours"), ("admin-2", "skipped", "already_texted_today")]
    text = admin("calls", "--account", "demo", "--caller", "+33600000037")
    assert text.returncode == 0 and "+33 6•• •• •• 37" in text.stdout
    assert_no_clear_number(text.stdout + text.stderr, "rappel-admin output")

    account = admin("get-account", "demo")
    assert account.returncode == 0
    assert "demo-generic-secret" not in account.stdout and "<redacted>" in account.stdout
    assert admin("get-account", "nobody").returncode == 1

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"account_id": "bad", "company_name": "Acme", "message_template": "{company} {link}"}))
    refused = admin("validate", "--file", str(bad))
    assert refused.returncode == 2 and "STOP" in refused.stderr


def test_rappel_admin_finds_what_is_stuck_and_redecides_it(stack):
    """A call the stream left without an outcome (its batch went to the DLQ): `stuck` lists it
    (exit 4), `redecide` decides it, then `stuck` lists nothing of it."""
    import boto3
    body = generic_call("admin-stuck", "+33600000038", "no_answer", rfc3339(stack.now()))
    assert stack.webhook("generic", "demo", body, JSON, SECRETS["generic"]).status == 200
    stack.drain()
    dynamodb = boto3.client("dynamodb", endpoint_url="http://127.0.0.1:5312", region_name="eu-west-3",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    key = {"PK": {"S": "ACCOUNT#demo"}, "SK": {"S": "CALL#generic#admin-stuck"}}
    item = dynamodb.get_item(TableName="rappel", Key=key)["Item"]
    # As if eligibility had never decided it.
    dynamodb.update_item(TableName="rappel", Key=key,
                         UpdateExpression="REMOVE outcome, reason, decided_at SET GSI1PK = :pk, GSI1SK = :sk",
                         ExpressionAttributeValues={":pk": {"S": "UNDECIDED#0"},
                                                    ":sk": {"S": item["received_at"]["S"] + "#CALL#generic#admin-stuck"}})
    stuck = admin("stuck", "--account", "demo", "--json")
    assert stuck.returncode == 4, stuck.stderr
    rows = json.loads(stuck.stdout)
    assert {"kind": "undecided", "item": "generic#admin-stuck"} in [{"kind": r["kind"], "item": r["item"]} for r in rows]
    assert_no_clear_number(stuck.stdout + stuck.stderr, "rappel-admin stuck output")

    redecided = admin("redecide", "--account", "demo", "--json")
    assert redecided.returncode == 0, redecided.stderr
    decided = {r["call"]: (r["outcome"], r["reason"]) for r in json.loads(redecided.stdout)}
    # Decided now (real time), long after the simulated call: too old to text.
    assert decided["generic#admin-stuck"] == ("skipped", "too_old")
    after = admin("stuck", "--account", "demo", "--json")
    assert "generic#admin-stuck" not in after.stdout


def _template_actions() -> dict[str, set[str]]:
    """Actions each function may call, from template.yaml: its inline policies, plus what
    NumberKey's key policy grants its role (`<Function>Role`, SAM's implicit role)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)

    Loader.add_multi_constructor("!", any_tag)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    allowed = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        actions = set()
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                if statement.get("Effect") == "Allow":
                    action = statement["Action"]
                    actions.update([action] if isinstance(action, str) else action)
        allowed[name] = actions
    for statement in template["Resources"]["NumberKey"]["Properties"]["KeyPolicy"]["Statement"]:
        # `!If [Condition, statement, !Ref AWS::NoValue]` reads as a list here.
        for s in statement if isinstance(statement, list) else [statement]:
            if not isinstance(s, dict) or s.get("Effect") != "Allow":
                continue
            principal = s["Principal"]["AWS"]
            if isinstance(principal, str) and principal.endswith("Role.Arn"):  # !GetAtt XFunctionRole.Arn
                function = principal[: -len("Role.Arn")]
                action = s["Action"]
                allowed[function].update([action] if isinstance(action, str) else action)
    return allowed


def test_template_allows_every_aws_call_the_functions_made(stack):
    """Every AWS operation a handler made on the local stack (counted by the SDK interceptor)
    is allowed by that function's inline policy in template.yaml (moto does not enforce IAM).
    Runs after this module's other tests, which exercise intake, eligibility, both sender
    triggers (with a carrier STOP), booking and opt-out."""
    function_of = {"webhook-intake": "WebhookIntakeFunction", "eligibility": "EligibilityFunction",
                   "eligibility:redecide": "EligibilityFunction",
                   "sender:MessageDue": "SenderFunction", "sender:sweep": "SenderFunction",
                   "booking": "BookingFunction", "inbound-sms": "InboundSmsFunction"}
    prefix = {"DynamoDB": "dynamodb", "KMS": "kms", "SNS": "sns", "EventBridge": "events"}
    allowed = _template_actions()
    made = stack.get_json("/_local/aws-calls")
    seen_functions = {c["function"] for c in made}
    assert {"webhook-intake", "eligibility", "sender:MessageDue", "sender:sweep", "booking"} <= seen_functions
    missing = []
    for call in made:
        if call["operation"] == "TransactWriteItems":
            continue  # authorised per item: PutItem / UpdateItem / DeleteItem / ConditionCheckItem
        action = f"{prefix[call['service']]}:{call['operation']}"
        if action not in allowed[function_of[call["function"]]]:
            missing.append((call["function"], action))
    assert missing == [], f"template.yaml lacks: {sorted(set(missing))}"
