"""End to end, provider by provider: signed webhooks in each provider's wire format go through
the local stack to a decision and at most one SMS (issue 3, Acceptance).

One stack for the module (ports 3320 / 5320), account `providers` (tests/e2e/accounts), clock
Monday 2026-11-30 10:00 Paris (inside sending hours). Bodies are the fixtures of
events/providers with fresh ids, times at the stack clock and DESIGN test numbers: mobiles
+33 6 00 00 PP CC (PP = provider, CC = case: a caller is texted at most once a day), landlines
+33 1 44 00 01 PP. Signatures are made here in Python (infra/local/rappel_stack.py), independently
of the Rust adapters. Assertion messages never show a number in clear.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

import rappel_stack  # noqa: E402
from rappel_stack import (Reply, Stack, rfc3339, sign_generic, sign_plivo_v3, sign_ringover,  # noqa: E402
                          sign_telnyx, sign_twilio, sign_vonage, telnyx_public_key, with_aircall_token)

ACCOUNT = "providers"
ACCOUNT_FILE = Path(__file__).parent / "accounts" / f"{ACCOUNT}.json"
SECRETS = json.loads(ACCOUNT_FILE.read_text())["webhook_secrets"]
FIXTURES = ROOT / "events" / "providers"
PORT, MOTO_PORT = 3320, 5320
CLOCK = "2026-11-30T09:00:00Z"

PROVIDERS = ["twilio", "generic", "vonage", "telnyx", "aircall", "plivo", "ringover"]
TIMESTAMP_SIGNED = ["generic", "vonage", "telnyx", "ringover"]

# Telnyx: the account holds the public key of RFC 8032 test 1; the "provider" signs with its seed.
TELNYX_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
TELNYX_OTHER_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"  # RFC 8032 test 2
VONAGE_OLD, VONAGE_NEW = SECRETS["vonage"]

# What a genuine provider signs with, and what an impostor would.
SIGNING = {"twilio": SECRETS["twilio"], "generic": SECRETS["generic"], "vonage": VONAGE_NEW,
           "telnyx": TELNYX_SEED, "aircall": SECRETS["aircall"], "plivo": SECRETS["plivo"],
           "ringover": SECRETS["ringover"]}
WRONG = {"twilio": "not-the-twilio-auth-token", "generic": "not-the-generic-secret",
         "vonage": "not-the-vonage-signature-secret", "telnyx": TELNYX_OTHER_SEED,
         "aircall": "not-the-aircall-token", "plivo": "not-the-plivo-auth-token",
         "ringover": "not-the-ringover-webhook-key"}
CONTENT_TYPE = {"twilio": "application/x-www-form-urlencoded", "generic": "application/json",
                "vonage": "application/json", "telnyx": "application/json", "aircall": "application/json",
                "plivo": "application/x-www-form-urlencoded", "ringover": "application/json"}
ACK = {"twilio": "text/xml", "generic": "application/json", "vonage": "text/plain", "telnyx": "application/json",
       "aircall": "application/json", "plivo": "application/xml", "ringover": "application/json"}

TRACKED = "+33144000000"         # the business's tracked number
BUSINESS_PHONE = "+33144000001"  # the phone a Vonage connect leg rings
WITHHELD = "withheld"            # stands for "no caller id", encoded per provider below
PP = {p: 11 + i for i, p in enumerate(PROVIDERS)}
SHARED = 20  # PP of a caller who rings through every provider

# case numbers (the CC of a mobile)
MISSED, ANSWERED, REDELIVERED, TAMPERED, TAMPERED_TO, WRONG_SECRET, REPLAYED = 1, 2, 3, 4, 5, 6, 7
ROTATION_OLD, ROTATION_NEW, LEG_FLOW, LONE_LEG, CLEAR_SCAN, IN_WINDOW, FUTURE, SEVERAL = 8, 9, 10, 11, 12, 13, 14, 15
TRANSFER = 16
OUT_OF_ORDER = 17
ANSWER_THEN_TRANSFER = {(False, False): 22, (True, False): 23, (True, True): 24}  # (picks up, answer first)
HUNT_GROUP = {None: 18, 1: 19, 2: 21}  # which endpoint answers (None: none)


def mobile(provider: str, case: int) -> str:
    return f"+3360000{PP[provider]:02d}{case:02d}"


def landline(provider: str) -> str:
    return f"+331440001{PP[provider]:02d}"


def mask(number: str) -> str:
    return f"{number[:4]}•••{number[-2:]}"


def scrub(text: str) -> str:
    """A reply body safe to show: runs of 6+ digits hidden."""
    return re.sub(r"\d[\d ]{5,}", "•••", text)


def known_numbers() -> list[str]:
    return ([mobile(p, c) for p in PROVIDERS for c in range(1, 40)] + [landline(p) for p in PROVIDERS]
            + [f"+3360000{SHARED:02d}01"]
            + [TRACKED, BUSINESS_PHONE])


def clear_forms(e164: str) -> list[str]:
    """Every notation a number could appear in: E.164, E.164 digits only, URL-encoded E.164,
    national without and with spaces or dots, international spaced (as Aircall writes it)."""
    national = "0" + e164[3:]
    rest = e164[3:]
    pairs = [national[i:i + 2] for i in range(0, len(national), 2)]
    return [e164, e164[1:], urllib.parse.quote(e164, safe=""), national, " ".join(pairs), ".".join(pairs),
            "+33 " + rest[0] + " " + " ".join(rest[i:i + 2] for i in range(1, len(rest), 2))]


# Every HTTP answer the stack gave in this module (status, headers, body), for the final scan.
ANSWERS: list[str] = []


def assert_no_clear_number(text: str, where: str) -> None:
    for number in known_numbers():
        for form in clear_forms(number):
            assert form not in text, f"{where} contains a test number in clear ({mask(number)})"


# ----------------------------------------------------------------------------------------- #
# Bodies: the fixtures, with fresh ids, times and numbers.

def fixture(name: str) -> str:
    return json.loads((FIXTURES / f"{name}.json").read_text())["body"]


def form(name: str, **changes: str | None) -> str:
    pairs = dict(urllib.parse.parse_qsl(fixture(name), keep_blank_values=True))
    for key, value in changes.items():
        if value is None:
            pairs.pop(key, None)
        else:
            pairs[key] = value
    return urllib.parse.urlencode(pairs)


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def uid(ref: str, leg: str = "") -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"rappel-e2e-providers/{ref}/{leg}")


def iso_ms(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_us(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode(provider: str, caller: str) -> str:
    """The caller as `provider` writes it."""
    if caller == WITHHELD:
        return {"twilio": "+266696687", "generic": "anonymous", "vonage": "Unknown", "telnyx": "anonymous",
                "aircall": "anonymous", "plivo": "anonymous", "ringover": "anonymous"}[provider]
    if provider in ("vonage", "plivo", "ringover"):
        return caller[1:]  # E.164 digits without '+'
    if provider == "aircall":
        rest = caller[3:]
        return "+33 " + rest[0] + " " + " ".join(rest[i:i + 2] for i in range(1, len(rest), 2))
    return caller


@dataclass
class Call:
    bodies: list[str]  # delivered in this order; the decisive one is last (or followed by non-decisive ones)
    call_id: str       # as /_local/calls shows it
    ids: list[str]     # every id of the call, to look for traces in the table

    def __repr__(self) -> str:  # the bodies hold numbers: never shown
        return f"Call({self.call_id})"


def twilio_call(ref: str, caller: str, answered: bool, at: datetime) -> Call:
    """The `<Dial action>` (decides), then the parent call's `completed` status callback (not stored)."""
    sid = "CA" + uid(ref).hex
    parties = {"From": encode("twilio", caller), "Caller": encode("twilio", caller), "To": TRACKED, "Called": TRACKED}
    dial = form("twilio-dial-completed" if answered else "twilio-dial-no-answer",
                CallSid=sid, DialCallSid="CA" + uid(ref, "b").hex, **parties)
    status = form("twilio-status-no-answer", CallSid=sid, CallStatus="completed", SequenceNumber="3",
                  Timestamp=at.strftime("%a, %d %b %Y %H:%M:%S +0000"), **parties)
    return Call([dial, status], sid, [sid])


def generic_call(ref: str, caller: str, answered: bool, at: datetime) -> Call:
    value = json.loads(fixture("generic-answered" if answered else "generic-no-answer"))
    value |= {"call_id": f"ct-{ref}", "from": encode("generic", caller), "to": TRACKED,
              "started_at": rfc3339(at - timedelta(seconds=30)), "ended_at": rfc3339(at)}
    return Call([compact(value)], value["call_id"], [value["call_id"]])


def vonage_call(ref: str, caller: str, answered: bool, at: datetime, leg_a: bool = True) -> Call:
    """The two legs of a forwarded Vonage call: leg A (caller → tracked number, answered by Vonage
    to run the NCCO), the connect leg B (tracked number → business phone), then leg A's end.
    An answered leg B decides (human contact); otherwise leg A's `completed` does."""
    conversation, a, b = f"CON-{uid(ref)}", uid(ref, "a").hex, str(uid(ref, "b"))

    def event(name: str, leg: str, status: str, offset: float, **more) -> str:
        value = json.loads(fixture(name))
        value |= {"uuid": leg, "conversation_uuid": conversation, "status": status,
                  "timestamp": iso_ms(at - timedelta(seconds=offset))} | more
        if leg == a:
            value |= {"from": encode("vonage", caller), "to": TRACKED[1:], "direction": "inbound"}
        else:
            value |= {"from": TRACKED[1:], "to": BUSINESS_PHONE[1:], "direction": "outbound"}
        return compact(value)

    end = at - timedelta(seconds=8)
    bodies = [
        event("vonage-inbound-started", a, "started", 40),
        event("vonage-inbound-ringing", a, "ringing", 39.98),
        event("vonage-inbound-answered", a, "answered", 39.5),
        event("vonage-connect-timeout", b, "started", 39),
        event("vonage-connect-timeout", b, "ringing", 38.7),
        event("vonage-connect-answered", b, "answered", 31) if answered else event("vonage-connect-timeout", b, "timeout", 9),
        event("vonage-inbound-completed", a, "completed", 8, start_time=iso_ms(at - timedelta(seconds=39.5)),
              end_time=iso_ms(end), duration="32"),
    ]
    if not leg_a:
        bodies = bodies[3:6]
    # Leg A's end decides a missed call; an answered leg B (or a lone outbound leg) is its own.
    deciding = b if answered or not leg_a else a
    return Call(bodies, f"{conversation}#{deciding}", [conversation, a, b])


def telnyx_call(ref: str, caller: str, answered: bool, at: datetime, initiated: bool = True,
                hangup_direction: bool = True) -> Call:
    """`call.initiated` (incoming) then the same leg's `call.hangup`."""
    leg, session = str(uid(ref, "leg")), str(uid(ref, "session"))
    control = "v3:" + uid(ref, "control").hex
    start = at - timedelta(seconds=30)

    def event(name: str, **payload) -> str:
        value = json.loads(fixture(name))
        data = value["data"]
        data["id"] = str(uid(ref, name))
        data["payload"] |= {"call_control_id": control, "call_leg_id": leg, "call_session_id": session,
                            "from": encode("telnyx", caller), "to": TRACKED, "start_time": iso_us(start)} | payload
        return value

    first = event("telnyx-initiated", caller_id_name=encode("telnyx", caller))
    first["data"]["occurred_at"] = iso_us(start)
    last = event("telnyx-hangup-answered" if answered else "telnyx-hangup-caller-cancel", end_time=iso_us(at))
    last["data"]["occurred_at"] = iso_us(at)
    if not hangup_direction:
        del last["data"]["payload"]["direction"]  # as Telnyx's API reference shows call.hangup
    bodies = ([compact(first)] if initiated else []) + [compact(last)]
    return Call(bodies, leg, [leg, session])


def aircall_call(ref: str, caller: str, answered: bool, at: datetime) -> Call:
    value = json.loads(fixture("aircall-answered" if answered else "aircall-missed"))
    call_id = 900_000_000 + int(uid(ref).hex[:7], 16)
    started = int(at.timestamp()) - 40
    value["timestamp"] = int(at.timestamp())
    value["data"] |= {"id": call_id, "direct_link": f"https://api.aircall.io/v1/calls/{call_id}",
                      "raw_digits": encode("aircall", caller), "started_at": started,
                      "answered_at": started + 9 if answered else None, "ended_at": int(at.timestamp()) - 2}
    value["data"]["number"]["digits"] = encode("aircall", TRACKED)
    return Call([compact(value)], str(call_id), [f"aircall#{call_id}", f'"{call_id}"'])


def plivo_call(ref: str, caller: str, answered: bool, at: datetime) -> Call:
    """The `<Dial action>` (decides), then the inbound leg's hangup callback: `completed` and
    answered, by Plivo itself to run the XML (not stored)."""
    a = str(uid(ref, "a"))
    start, session = at - timedelta(seconds=40), at.strftime("%Y-%m-%d %H:%M:%S.140215")
    dial = form("plivo-dial-completed" if answered else "plivo-dial-no-answer",
                CallUUID=a, DialALegUUID=a, DialBLegUUID=str(uid(ref, "b")) if answered else "",
                From=encode("plivo", caller), To=TRACKED[1:], SessionStart=session)
    hangup = form("plivo-hangup-inbound-completed", CallUUID=a, From=encode("plivo", caller), To=TRACKED[1:],
                  SessionStart=session, StartTime=start.strftime("%Y-%m-%d %H:%M:%S"),
                  AnswerTime=(start + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"),
                  EndTime=at.strftime("%Y-%m-%d %H:%M:%S"), BillDuration="40", Duration="40")
    return Call([dial, hangup], a, [a])


def ringover_call(ref: str, caller: str, answered: bool, at: datetime) -> Call:
    """The call's last event: `hangup` with an answer time when answered, else `missed`."""
    value = json.loads(fixture("ringover-hangup-answered" if answered else "ringover-missed"))
    call_id = 7_000_000_000_000_000_000 + int(uid(ref).hex[:12], 16)
    ts = at.timestamp()
    value["timestamp"] = ts
    value["data"] |= {"id": str(uid(ref)), "call_id": call_id, "start_time": ts - 40, "hangup_time": ts - 2,
                      "from_number": encode("ringover", caller), "to_number": TRACKED[1:],
                      "is_anonymous": caller == WITHHELD}
    if answered:
        value["data"]["answered_time"] = ts - 31
    return Call([compact(value)], str(call_id), [f"ringover#{call_id}", f'"{call_id}"'])


BUILD = {"twilio": twilio_call, "generic": generic_call, "vonage": vonage_call, "telnyx": telnyx_call,
         "aircall": aircall_call, "plivo": plivo_call, "ringover": ringover_call}


# ----------------------------------------------------------------------------------------- #
# Sending, as each provider signs.

def post(stack: Stack, provider: str, body: str, secret: str | None, stamp: int | None = None,
         signed_body: str | None = None) -> Reply:
    """POST `body` signed as `provider` does with `secret` at `stamp` (default: the stack's now).
    `signed_body`: sign this instead of `body` (a body tampered with after signing)."""
    path = f"/webhooks/{provider}/{ACCOUNT}"
    headers = {"content-type": CONTENT_TYPE[provider]}
    stamp = int(stack.now().timestamp()) if stamp is None else stamp
    signed = body if signed_body is None else signed_body
    if provider == "twilio":
        headers["x-twilio-signature"] = sign_twilio(secret, stack.base + path, signed)
    elif provider == "generic":
        headers |= {"x-rappel-timestamp": str(stamp), "x-rappel-signature": sign_generic(secret, stamp, signed)}
    elif provider == "vonage":
        headers["authorization"] = "Bearer " + sign_vonage(secret, signed, stamp)
    elif provider == "telnyx":
        headers |= {"telnyx-timestamp": str(stamp), "telnyx-signature-ed25519": sign_telnyx(secret, stamp, signed)}
    elif provider == "aircall":
        body = with_aircall_token(secret, body)  # Aircall's "signature" is the token in the body
    elif provider == "ringover":
        # The event's own `timestamp` is the replay window; the JWT signs the event.
        def stamped(text: str) -> str:
            return compact(json.loads(text) | {"timestamp": stamp})
        body, signed = stamped(body), stamped(signed)
        headers["x-ringover-webhook-signature"] = sign_ringover(secret, stack.base + path, signed)
    elif provider == "plivo":
        nonce = str(secrets.randbelow(10 ** 20)).zfill(20)
        headers |= {"x-plivo-signature-v3": sign_plivo_v3(secret, stack.base + path, signed, nonce),
                    "x-plivo-signature-v3-nonce": nonce}
    reply = stack.request("POST", path, body, headers)
    ANSWERS.append(f"{reply.status} {json.dumps(dict(reply.headers))} {reply.text}")
    return reply


def deliver(stack: Stack, provider: str, call: Call, secret: str | None = None) -> None:
    """Deliver every event of `call`, correctly signed, and expect the provider's acknowledgement."""
    for i, body in enumerate(call.bodies):
        reply = post(stack, provider, body, SIGNING[provider] if secret is None else secret)
        assert reply.status == 200, f"{provider} event {i}: {reply.status} {scrub(reply.text)}"
        assert reply.headers.get("content-type", "").startswith(ACK[provider]), reply.headers


def rows(stack: Stack, call_id: str) -> list[dict]:
    return [c for c in stack.calls(ACCOUNT) if c["call_id"] == call_id]


def decision(stack: Stack, call: Call) -> tuple[str, str]:
    found = rows(stack, call.call_id)
    assert len(found) == 1, f"expected one call item for {call.call_id}, found {len(found)}"
    return found[0]["outcome"], found[0]["reason"]


def sms_count(stack: Stack, number: str) -> int:
    return sum(1 for sms in stack.outbox() if sms["to"] == number)


def table_items(moto_port: int = MOTO_PORT) -> list[dict]:
    return rappel_stack.table_items(moto_port)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("accounts")
    shutil.copy(ACCOUNT_FILE, accounts / ACCOUNT_FILE.name)
    log = tmp_path_factory.mktemp("logs") / "rappel-local.log"
    with Stack(port=PORT, moto_port=MOTO_PORT, clock=CLOCK, accounts_dir=str(accounts), log_path=log) as s:
        s.log = log
        yield s


def test_the_account_holds_the_telnyx_public_key_of_the_test_seed():
    assert SECRETS["telnyx"] == telnyx_public_key(TELNYX_SEED)
    assert telnyx_public_key(TELNYX_OTHER_SEED) != SECRETS["telnyx"]


# ----------------------------------------------------------------------------------------- #
# 1–3: what each provider's calls lead to.

@pytest.mark.parametrize("provider", PROVIDERS)
def test_missed_call_from_a_mobile_sends_one_sms(stack, provider):
    caller = mobile(provider, MISSED)
    call = BUILD[provider](f"{provider}-missed", caller, False, stack.now())
    calls_before = len(stack.calls(ACCOUNT))
    deliver(stack, provider, call)
    stack.drain()
    assert decision(stack, call) == ("sent", "in_hours")
    # One call item for all the call's events; Vonage records its unanswered connect leg too
    # (`ignored`/`not_final`: it decides nothing, leg A's end does).
    items = 2 if provider == "vonage" else 1
    assert len(stack.calls(ACCOUNT)) == calls_before + items, "one decision for all the call's events"
    assert call.ids[0] in json.dumps(table_items()), "the trace the refusal tests look for is there"
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"
    sms = next(s for s in stack.outbox() if s["to"] == caller)
    assert sms["account_id"] == ACCOUNT and sms["sender_id"] == "PlombMartin"
    assert sms["body"].startswith("Plomberie Martin : ") and "Stop SMS : " in sms["body"]
    assert re.search(r"/r/([\w-]{22}) Stop SMS : \S+/o/\1$", sms["body"]), "booking and opt-out links"
    others = sum(sms_count(stack, n) for n in (TRACKED, BUSINESS_PHONE))
    assert others == 0, "nobody but the caller is texted"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_answered_call_sends_nothing(stack, provider):
    caller = mobile(provider, ANSWERED)
    call = BUILD[provider](f"{provider}-answered", caller, True, stack.now())
    deliver(stack, provider, call)
    stack.drain()
    assert decision(stack, call) == ("ignored", "answered")
    assert sms_count(stack, caller) == 0, f"SMS to {mask(caller)}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("who", ["landline", "withheld"])
def test_landline_and_withheld_callers_are_skipped(stack, provider, who):
    caller = landline(provider) if who == "landline" else WITHHELD
    call = BUILD[provider](f"{provider}-{who}", caller, False, stack.now())
    sent_before = len(stack.outbox())
    deliver(stack, provider, call)
    stack.drain()
    assert decision(stack, call) == ("skipped", "not_mobile" if who == "landline" else "anonymous")
    assert len(stack.outbox()) == sent_before


# ----------------------------------------------------------------------------------------- #
# 4: refused requests answer 401 and leave no trace.

REFUSALS = [(p, attack) for p in PROVIDERS for attack in ("tampered", "wrong-secret")] + \
           [(p, attack) for p in TIMESTAMP_SIGNED for attack in ("replayed", "from-the-future")]


@pytest.mark.parametrize("provider, attack", REFUSALS)
def test_refused_webhook_is_401_and_leaves_no_trace(stack, provider, attack):
    now = stack.now()
    case = {"tampered": TAMPERED, "wrong-secret": WRONG_SECRET, "replayed": REPLAYED, "from-the-future": FUTURE}[attack]
    caller = mobile(provider, case)
    call = BUILD[provider](f"{provider}-{attack}", caller, False, now)
    calls_before, sent_before = len(stack.calls(ACCOUNT)), len(stack.outbox())
    replies = []
    if attack == "tampered" and provider == "aircall":
        # Aircall signs nothing: the token is the whole proof. A body whose token was altered
        # (same length, last character changed) must not pass.
        token = SIGNING["aircall"]
        forged = token[:-1] + ("x" if token[-1] != "x" else "y")
        replies = [post(stack, provider, body, forged) for body in call.bodies]
    elif attack == "tampered":
        # Signed for the genuine caller, delivered with another number (an SMS redirected to a victim).
        victim_number = mobile(provider, TAMPERED_TO)
        victim = BUILD[provider](f"{provider}-{attack}", victim_number, False, now)
        assert len(victim.bodies) == len(call.bodies) and victim.call_id == call.call_id
        pairs = list(zip(call.bodies, victim.bodies))
        # Vonage's leg B names the tracked number, not the caller: there the forger claims the
        # connect leg passed the victim's number through as caller id.
        pairs = [(signed, sent if sent != signed else
                  sent.replace(f'"from":"{TRACKED[1:]}"', f'"from":"{victim_number[1:]}"')) for signed, sent in pairs]
        assert all(signed != sent for signed, sent in pairs)
        replies = [post(stack, provider, sent, SIGNING[provider], signed_body=signed) for signed, sent in pairs]
    elif attack == "wrong-secret":
        replies = [post(stack, provider, body, WRONG[provider]) for body in call.bodies]
    else:
        stamp = int(now.timestamp()) + (-301 if attack == "replayed" else 301)
        replies = [post(stack, provider, body, SIGNING[provider], stamp=stamp) for body in call.bodies]
    for reply in replies:
        assert reply.status == 401, f"{reply.status} {scrub(reply.text)}"
        assert reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["status"] == 401 and problem["type"].startswith("urn:rappel:problem:")
        assert_no_clear_number(reply.text, "problem body")
    stack.drain()
    assert len(stack.calls(ACCOUNT)) == calls_before, "a refused webhook adds no call"
    assert len(stack.outbox()) == sent_before
    dump = json.dumps(table_items())
    traces = [i for i in call.ids if i in dump]
    assert traces == [], "a refused webhook leaves no item in the table"


def test_a_replay_just_inside_the_window_is_accepted(stack):
    """The 300 s tolerance is inclusive; the 401 above is the window, not a clock mismatch."""
    caller = mobile("telnyx", IN_WINDOW)
    call = telnyx_call("telnyx-window", caller, False, stack.now())
    stamp = int(stack.now().timestamp()) - 300
    for body in call.bodies:
        reply = post(stack, "telnyx", body, TELNYX_SEED, stamp=stamp)
        assert reply.status == 200, scrub(reply.text)
    stack.drain()
    assert decision(stack, call) == ("sent", "in_hours")


# ----------------------------------------------------------------------------------------- #
# 5: the same event twice.

@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_same_event_twice_makes_one_decision(stack, provider):
    caller = mobile(provider, REDELIVERED)
    call = BUILD[provider](f"{provider}-redelivered", caller, False, stack.now())
    deliver(stack, provider, call)
    stack.drain()
    first = rows(stack, call.call_id)
    deliver(stack, provider, call)  # the provider retries: same bodies, signed again
    stack.drain()
    again = rows(stack, call.call_id)
    assert len(again) == 1 and again == first
    assert (first[0]["outcome"], first[0]["reason"]) == ("sent", "in_hours")
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"


def test_one_caller_through_every_provider_gets_one_sms_a_day(stack):
    """Each provider writes the number its own way (E.164, digits without '+', spaced): all reach
    the same caller, who is texted once (DESIGN rule 3)."""
    caller = f"+3360000{SHARED:02d}01"
    for provider in PROVIDERS:
        deliver(stack, provider, BUILD[provider](f"{provider}-shared", caller, False, stack.now()))
        stack.drain()
    decided = [decision(stack, BUILD[p](f"{p}-shared", caller, False, stack.now())) for p in PROVIDERS]
    assert decided == [("sent", "in_hours")] + [("skipped", "already_texted_today")] * (len(PROVIDERS) - 1)
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"


# ----------------------------------------------------------------------------------------- #
# 6: providers whose deciding event needs an earlier leg.

def test_vonage_connect_leg_texts_the_caller_of_leg_a(stack):
    """Leg A `started` is remembered; leg B `timeout` comes from the tracked number to the
    business phone and decides nothing (another endpoint might answer); leg A's `completed`
    texts the caller of leg A."""
    caller = mobile("vonage", LEG_FLOW)
    call = vonage_call("vonage-leg-flow", caller, False, stack.now())
    started, timeout, completed = call.bodies[0], call.bodies[5], call.bodies[6]
    assert json.loads(timeout)["from"] == TRACKED[1:] and json.loads(timeout)["status"] == "timeout"
    calls_before = len(stack.calls(ACCOUNT))
    for body in (started, timeout):
        assert post(stack, "vonage", body, VONAGE_NEW).status == 200
    stack.drain()
    leg_b = call.call_id.split("#")[0] + "#" + json.loads(timeout)["uuid"]
    assert decision(stack, Call([], leg_b, [])) == ("ignored", "not_final")
    assert sms_count(stack, caller) == 0, "leg B's timeout alone texts nobody"
    assert post(stack, "vonage", completed, VONAGE_NEW).status == 200
    stack.drain()
    assert len(stack.calls(ACCOUNT)) == calls_before + 2
    assert decision(stack, call) == ("sent", "in_hours")
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"
    assert sms_count(stack, TRACKED) + sms_count(stack, BUSINESS_PHONE) == 0


@pytest.mark.parametrize("answered_by", [None, 1, 2])
def test_vonage_hunt_group_is_missed_only_when_no_leg_answered(stack, answered_by):
    """Issue 10: an NCCO that `connect`s three endpoints in turn. Legs that time out or are busy
    decide nothing; the call is missed only when none of them answered, and then texted once,
    at leg A's end. When the second or third endpoint answers, nobody is texted, even though
    earlier legs timed out first."""
    caller = mobile("vonage", HUNT_GROUP[answered_by])
    ref = f"vonage-hunt-{answered_by}"
    conversation, a = f"CON-{uid(ref)}", uid(ref, "a").hex
    at = stack.now()

    def event(name: str, leg: str, status: str, offset: float, inbound: bool, **more) -> str:
        value = json.loads(fixture(name)) | {"uuid": leg, "conversation_uuid": conversation, "status": status,
                                             "timestamp": iso_ms(at - timedelta(seconds=offset))} | more
        if inbound:
            value |= {"from": encode("vonage", caller), "to": TRACKED[1:], "direction": "inbound"}
        else:
            value |= {"from": TRACKED[1:], "to": BUSINESS_PHONE[1:], "direction": "outbound"}
        return compact(value)

    bodies = [event("vonage-inbound-started", a, "started", 90, True),
              event("vonage-inbound-answered", a, "answered", 89, True)]
    for i, endpoint_status in enumerate(["timeout", "busy", "timeout"]):
        leg = str(uid(ref, f"b{i}"))
        bodies.append(event("vonage-connect-timeout", leg, "started", 88 - 25 * i, False))
        if answered_by == i:
            bodies.append(event("vonage-connect-answered", leg, "answered", 80 - 25 * i, False))
            break
        bodies.append(event("vonage-connect-timeout", leg, endpoint_status, 70 - 25 * i, False))
    bodies.append(event("vonage-inbound-completed", a, "completed", 5, True,
                        start_time=iso_ms(at - timedelta(seconds=89)), end_time=iso_ms(at - timedelta(seconds=5))))
    for body in bodies:
        reply = post(stack, "vonage", body, VONAGE_NEW)
        assert reply.status == 200, scrub(reply.text)
    stack.drain()
    leg_a = decision(stack, Call([], f"{conversation}#{a}", []))
    if answered_by is None:
        assert leg_a == ("sent", "in_hours")
        assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"
    else:
        assert leg_a == ("skipped", "answered_later")
        assert sms_count(stack, caller) == 0, f"SMS to {mask(caller)}"


def test_vonage_connect_leg_without_leg_a_is_the_business_calling_out(stack):
    """A lone outbound leg (no inbound leg known in its conversation) whose call ended more
    than 10 minutes ago is stored as outbound: no SMS. (A recent one is kept pending for its
    leg A: see the out-of-order test.)"""
    call = vonage_call("vonage-lone-leg", mobile("vonage", LONE_LEG), False, stack.now() - timedelta(minutes=11),
                       leg_a=False)
    sent_before = len(stack.outbox())
    deliver(stack, "vonage", call)
    stack.drain()
    assert decision(stack, call) == ("ignored", "outbound")
    assert len(stack.outbox()) == sent_before


def test_a_leg_that_arrives_before_its_partner_is_retried_not_lost(stack):
    """Issue 6, case 10: the leg Rappel must remember first (Telnyx `call.initiated`, the only
    event with the direction) got a 5xx and is retried later; the hangup arrives before it.
    Rappel acknowledges it and keeps it pending (whatever the provider's retry policy, nothing
    is lost); when the leg arrives, the call is stored the right way round, and the provider's
    own retry is a redelivery. (Vonage no longer has such an event: a connect leg that is not
    answered decides nothing, and leg A's end names its caller.)"""
    provider = "telnyx"
    caller = mobile(provider, OUT_OF_ORDER)
    call = telnyx_call("telnyx-out-of-order", caller, False, stack.now(), hangup_direction=False)
    early = [call.bodies[1]]
    rest = call.bodies
    for body in early:
        reply = post(stack, provider, body, SIGNING[provider])
        assert reply.status == 200, f"{reply.status} {scrub(reply.text)}"
    stack.drain()
    assert rows(stack, call.call_id) == [], "not stored as the business's own call"
    assert any(i["SK"]["S"].startswith(f"PENDING#{provider}#") for i in table_items())
    for body in rest:
        reply = post(stack, provider, body, SIGNING[provider])
        assert reply.status == 200, f"{reply.status} {scrub(reply.text)}"
    stack.drain()
    assert decision(stack, call) == ("sent", "in_hours")
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"
    assert not any(i["SK"]["S"].startswith(f"PENDING#{provider}#") for i in table_items())


def test_telnyx_hangup_without_direction_is_read_from_call_initiated(stack):
    caller = mobile("telnyx", LEG_FLOW)
    call = telnyx_call("telnyx-leg-flow", caller, False, stack.now(), hangup_direction=False)
    assert "direction" not in json.loads(call.bodies[1])["data"]["payload"]
    deliver(stack, "telnyx", call)
    stack.drain()
    assert decision(stack, call) == ("sent", "in_hours")
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"


def test_telnyx_transfer_leg_is_not_a_second_decision(stack):
    """Both legs of one Telnyx call: the inbound leg is transferred to the business phone (an
    outgoing leg in the same call_session_id), nobody answers, the transfer leg times out, the
    caller hangs up. One call item (the inbound leg), one SMS."""
    caller = mobile("telnyx", TRANSFER)
    inbound = telnyx_call("telnyx-transfer", caller, False, stack.now(), hangup_direction=False)
    session = json.loads(inbound.bodies[0])["data"]["payload"]["call_session_id"]
    leg_b = str(uid("telnyx-transfer", "leg-b"))

    def b_event(name: str, **payload) -> str:
        value = json.loads(fixture(name))
        value["data"]["id"] = str(uid("telnyx-transfer", name + "-b"))
        value["data"]["payload"] |= {"call_control_id": "v3:" + uid("telnyx-transfer", "control-b").hex,
                                     "call_leg_id": leg_b, "call_session_id": session,
                                     "from": TRACKED, "to": BUSINESS_PHONE} | payload
        return compact(value)

    b_initiated = b_event("telnyx-initiated", direction="outgoing")
    b_hangup = json.loads(b_event("telnyx-hangup-caller-cancel", hangup_cause="timeout", hangup_source="callee"))
    del b_hangup["data"]["payload"]["direction"]
    # Telnyx order: A initiated, B initiated, B hangup (timeout), A hangup (caller gives up).
    bodies = [inbound.bodies[0], b_initiated, compact(b_hangup), inbound.bodies[1]]
    sent_before = sms_count(stack, caller)
    deliver(stack, "telnyx", Call(bodies, inbound.call_id, inbound.ids + [leg_b]))
    stack.drain()
    assert rows(stack, leg_b) == [], "the transfer leg is not decided on its own"
    assert decision(stack, inbound) == ("sent", "in_hours")
    assert sms_count(stack, caller) == sent_before + 1, f"one SMS to {mask(caller)}"


def test_telnyx_hangup_without_a_known_leg_is_stored_as_outbound(stack):
    """A hangup whose call.initiated never came, once the 10-minute wait is over, is stored as it
    reads (outbound): nothing is lost, and nothing is texted."""
    caller = mobile("telnyx", LONE_LEG)
    call = telnyx_call("telnyx-lone-leg", caller, False, stack.now() - timedelta(minutes=11), initiated=False,
                       hangup_direction=False)
    sent_before = len(stack.outbox())
    deliver(stack, "telnyx", call)
    stack.drain()
    assert decision(stack, call) == ("ignored", "outbound")
    assert len(stack.outbox()) == sent_before and sms_count(stack, caller) == 0


# ----------------------------------------------------------------------------------------- #
# 7: rotation.

@pytest.mark.parametrize("which", ["old", "new"])
def test_vonage_accepts_both_secrets_during_a_rotation(stack, which):
    caller = mobile("vonage", ROTATION_OLD if which == "old" else ROTATION_NEW)
    call = vonage_call(f"vonage-rotation-{which}", caller, False, stack.now())
    deliver(stack, "vonage", call, secret=VONAGE_OLD if which == "old" else VONAGE_NEW)
    stack.drain()
    assert decision(stack, call) == ("sent", "in_hours")
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"


def test_plivo_accepts_one_valid_signature_among_several(stack):
    """Plivo sends one X-Plivo-Signature-V3 per active auth token, comma-separated."""
    caller = mobile("plivo", SEVERAL)
    call = plivo_call("plivo-several", caller, False, stack.now())
    url = f"{stack.base}/webhooks/plivo/{ACCOUNT}"
    for body in call.bodies:
        nonce = str(secrets.randbelow(10 ** 20)).zfill(20)
        both = ",".join(sign_plivo_v3(token, url, body, nonce) for token in (WRONG["plivo"], SIGNING["plivo"]))
        reply = stack.request("POST", f"/webhooks/plivo/{ACCOUNT}", body, {
            "content-type": CONTENT_TYPE["plivo"], "x-plivo-signature-v3": both, "x-plivo-signature-v3-nonce": nonce})
        assert reply.status == 200, scrub(reply.text)
    stack.drain()
    assert decision(stack, call) == ("sent", "in_hours")
    assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"


# ----------------------------------------------------------------------------------------- #

def test_no_number_in_clear_in_the_table_the_log_the_events_or_the_answers(stack):
    """Every provider's calls (and the Vonage / Telnyx legs remembered) keep numbers sealed, and
    after every test of this module (each provider's fixtures: missed, answered, landline,
    withheld, refused, replayed, redelivered, out of order), no log line, event, item or HTTP
    answer holds a test number in any notation."""
    for provider in PROVIDERS:
        deliver(stack, provider, BUILD[provider](f"{provider}-scan", mobile(provider, CLEAR_SCAN), False, stack.now()))
    stack.drain()
    items = table_items()
    assert any(i["SK"]["S"].startswith("LEG#vonage#") for i in items)
    assert any(i["SK"]["S"].startswith("LEG#telnyx#") for i in items)
    assert_no_clear_number(json.dumps(items), "the DynamoDB table")
    log = stack.log.read_text().split("Control routes:", 1)[1]
    assert "call stored" in log
    assert_no_clear_number(log, "runner log")
    events = stack.events()
    assert {"MessageDue", "SmsSent"} <= {e["detail_type"] for e in events}
    assert_no_clear_number(json.dumps(events, ensure_ascii=False), "the events")
    assert len(ANSWERS) > 100
    assert_no_clear_number("\n".join(ANSWERS), "the HTTP answers")


@pytest.mark.parametrize("business_answers,answer_first", [(False, False), (True, False), (True, True)])
def test_telnyx_answer_then_transfer_takes_the_transfer_legs_outcome(stack, business_answers, answer_first):
    """Issue 10: Telnyx's call-tracking tutorial answers the inbound leg itself (greeting), then
    transfers it to the business phone. The inbound leg then ends `normal_clearing` whether or
    not anybody picked up: the call's outcome is the transfer leg's. Nobody answers: one SMS.
    The business answers (`call.answered` on the transfer leg): no SMS, also when that answer
    is handled before the transfer leg's own `call.initiated` (an auto-answering target)."""
    caller = mobile("telnyx", ANSWER_THEN_TRANSFER[(business_answers, answer_first)])
    ref = f"telnyx-att-{business_answers}-{answer_first}"
    at = stack.now()
    inbound = telnyx_call(ref, caller, True, at, hangup_direction=False)
    a_initiated = json.loads(inbound.bodies[0])
    session = a_initiated["data"]["payload"]["call_session_id"]
    leg_b = str(uid(ref, "leg-b"))

    def with_event(value: dict, event_type: str, offset: float) -> str:
        value = json.loads(json.dumps(value))
        value["data"] |= {"event_type": event_type, "id": str(uid(ref, f"{event_type}-{offset}")),
                          "occurred_at": iso_us(at - timedelta(seconds=offset))}
        return compact(value)

    def b_event(name: str, **payload) -> dict:
        value = json.loads(fixture(name))
        value["data"]["payload"] |= {"call_control_id": "v3:" + uid(ref, "control-b").hex,
                                     "call_leg_id": leg_b, "call_session_id": session,
                                     "from": TRACKED, "to": BUSINESS_PHONE,
                                     "start_time": iso_us(at - timedelta(seconds=25))} | payload
        return value

    a_answered = with_event(a_initiated, "call.answered", 29)  # the application answers
    b_initiated = with_event(b_event("telnyx-initiated", direction="outgoing"), "call.initiated", 25)
    bodies = [inbound.bodies[0], a_answered, b_initiated]
    if business_answers:
        b_answered = with_event(b_event("telnyx-initiated"), "call.answered", 20)
        if answer_first:
            bodies.insert(2, b_answered)
        else:
            bodies.append(b_answered)
        b_end = b_event("telnyx-hangup-answered", hangup_cause="normal_clearing", end_time=iso_us(at))
    else:
        b_end = b_event("telnyx-hangup-caller-cancel", hangup_cause="timeout", hangup_source="callee",
                        end_time=iso_us(at - timedelta(seconds=5)))
    del b_end["data"]["payload"]["direction"]
    b_hangup = with_event(b_end, "call.hangup", 0 if business_answers else 5)
    # The inbound leg ends normal_clearing either way. With the answer first, the inbound leg's
    # hangup is also handled before the transfer leg's: only the early answer can tell.
    bodies += [inbound.bodies[1], b_hangup] if answer_first else [b_hangup, inbound.bodies[1]]
    assert json.loads(inbound.bodies[1])["data"]["payload"]["hangup_cause"] == "normal_clearing"
    for body in bodies:
        reply = post(stack, "telnyx", body, SIGNING["telnyx"])
        assert reply.status == 200, f"{reply.status} {scrub(reply.text)}"
    stack.drain()
    if business_answers:
        assert decision(stack, inbound) == ("ignored", "answered")
        assert decision(stack, Call([], leg_b, [])) == ("ignored", "answered"), "the business's answer is recorded"
        assert sms_count(stack, caller) == 0, f"SMS to {mask(caller)}"
    else:
        (row,) = rows(stack, inbound.call_id)
        assert row["status"] == "no_answer", row
        assert decision(stack, inbound) == ("sent", "in_hours")
        assert rows(stack, leg_b) == [], "the unanswered transfer leg is not a call of its own"
        assert sms_count(stack, caller) == 1, f"SMS to {mask(caller)}"
