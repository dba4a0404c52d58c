"""The booking page end to end through the local stack (issue 8): a slot's capacity holds when
two prospects race for its last place, and a Réunion caller sees slots in Réunion time while the
business's event carries the UTC instant. Numbers are DESIGN's test numbers only."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import shutil
import sys
import threading
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from rappel_stack import (  # noqa: E402
    assert_events_match_schemas, aws_client, Stack, load_account, rfc3339, slots_on_page, table_items as scan_table,
    token_from_sms)

PORT, MOTO_PORT = 3322, 5322
MONDAY_1000 = "2026-11-30T09:00:00Z"  # 10:00 in Paris, 13:00 in Réunion
SECRET = load_account("demo")["webhook_secrets"]["generic"]
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("accounts")
    shutil.copy(ROOT / "infra" / "local" / "accounts" / "demo.json", accounts / "demo.json")
    log = tmp_path_factory.mktemp("logs") / "rappel-local.log"
    with Stack(port=PORT, moto_port=MOTO_PORT, clock=MONDAY_1000, accounts_dir=str(accounts), log_path=log) as s:
        s.log = log
        yield s


def texted(stack: Stack, call_id: str, number: str) -> str:
    """A missed call from `number`, texted at once; its booking token."""
    at = rfc3339(stack.now())
    body = json.dumps({"call_id": call_id, "direction": "inbound", "status": "no_answer", "from": number,
                       "to": "+33144000000", "started_at": at, "ended_at": at, "ring_seconds": 20})
    assert stack.webhook("generic", "demo", body, {"content-type": "application/json"}, SECRET).status == 200
    stack.drain()
    [sms] = [s for s in stack.outbox() if s["to"] == number]
    return token_from_sms(sms["body"])


def test_two_prospects_racing_for_the_last_place_one_gets_it_the_other_the_remaining_slots(stack):
    # The demo account's slots hold one callback each (callback_hours.slot_capacity, default 1).
    first, second = texted(stack, "race-1", "+33600000501"), texted(stack, "race-2", "+33600000502")
    offered_1 = slots_on_page(stack.request("GET", f"/r/{first}").text)
    offered_2 = slots_on_page(stack.request("GET", f"/r/{second}").text)
    assert offered_1 == offered_2 and len(offered_1) >= 2
    last_place = offered_1[0]
    body = urllib.parse.urlencode({"slot": last_place})
    answers: dict[str, object] = {}

    def book(token: str) -> None:
        answers[token] = stack.request("POST", f"/r/{token}", body, FORM)

    racers = [threading.Thread(target=book, args=(t,)) for t in (first, second)]
    for r in racers:
        r.start()
    for r in racers:
        r.join()
    statuses = sorted(answers[t].status for t in (first, second))
    # The loser is refused either by the booking transaction's capacity condition (409, both
    # read the slot free) or, when the winner's booking was visible first, by the form check
    # (422): the local stack serialises page requests, AWS does not.
    assert statuses[0] == 200 and statuses[1] in (409, 422), statuses
    loser = next(t for t in (first, second) if answers[t].status != 200)
    page = answers[loser].text
    assert "Ce créneau vient d&#39;être pris" in page or "Ce créneau vient d'être pris" in page
    remaining = slots_on_page(page)
    assert last_place not in remaining and remaining[:len(offered_1) - 1] == offered_1[1:]
    # The slot is no longer offered to anyone, and a stale form cannot book it.
    assert last_place not in slots_on_page(stack.request("GET", f"/r/{loser}").text)
    assert stack.request("POST", f"/r/{loser}", body, FORM).status == 422
    booked = [e["detail"] for e in stack.events() if e["detail_type"] == "CallbackRequested"]
    assert [b["slot"] for b in booked] == [last_place], "exactly one booking of that slot"
    # The loser books the next slot.
    assert stack.request("POST", f"/r/{loser}", urllib.parse.urlencode({"slot": remaining[0]}), FORM).status == 200


def test_a_reunion_caller_sees_slots_in_reunion_time_and_the_business_gets_utc(stack):
    token = texted(stack, "reunion-1", "+262692000007")
    page = stack.request("GET", f"/r/{token}").text
    assert "à l&#39;heure de La Réunion" in page or "à l'heure de La Réunion" in page
    slots = slots_on_page(page)
    # Each slot is labelled in Réunion time (UTC+4; Paris is UTC+1 in winter): the first free
    # one, 11:00 or later in Paris, reads 14:00 or later.
    first = slots[0]
    assert first >= "2026-11-30T10:00:00Z"
    label = f'value="{first}"'
    assert label in page
    hour_reunion = (int(first[11:13]) + 4) % 24
    assert f"<span>{hour_reunion:02d}:{first[14:16]}</span>" in page.split(label, 1)[1][:200]
    answer = stack.request("POST", f"/r/{token}", urllib.parse.urlencode({"slot": first}), FORM)
    assert answer.status == 200
    assert "(heure de La Réunion)" in answer.text
    [event] = [e["detail"] for e in stack.events()
               if e["detail_type"] == "CallbackRequested" and e["detail"]["caller"].startswith("+262")]
    assert event["slot"] == first, "the business gets the UTC instant"
    assert event["timezone"] == "Europe/Paris"


def test_the_funnel_is_counted_as_metrics_and_reported_by_rappel_admin(stack):
    """After the two tests above (3 SMS, 3 links opened, 3 bookings), the Réunion caller moves
    their booking, then cancels it; `rappel-admin report` shows every step, and the functions
    logged each step as a CloudWatch embedded-metric document."""
    reunion = next(e["detail"] for e in stack.events() if e["detail_type"] == "CallbackRequested"
                   and e["detail"]["caller"].startswith("+262"))
    token = next(t for t in [token_from_sms(s["body"]) for s in stack.outbox() if s["to"] == "+262692000007"])
    page = stack.request("GET", f"/r/{token}").text
    other = [slot for slot in slots_on_page(page) if slot != reunion["slot"]][0]
    assert stack.request("POST", f"/r/{token}/reschedule", urllib.parse.urlencode({"slot": other}), FORM).status == 200
    assert stack.request("POST", f"/r/{token}/cancel", "", FORM).status == 200

    env = dict(os.environ, MOTO_PORT=str(MOTO_PORT))
    out = subprocess.run([str(ROOT / "target" / "debug" / "rappel-admin"), "--local", "report", "--account", "demo",
                          "--from", "2026-11-30", "--to", "2026-11-30", "--json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    funnel = json.loads(out.stdout)
    assert (funnel["calls"], funnel["sms_sent"], funnel["links_opened"]) == (3, 3, 3), funnel
    assert (funnel["slots_booked"], funnel["rescheduled"], funnel["cancelled"], funnel["opted_out"]) == (3, 1, 1, 0)
    assert funnel["skipped"] == {}

    emf = [json.loads(line) for line in stack.log.read_text().splitlines()
           if line.startswith("{") and '"_aws":' in line]
    counted = {}
    for doc in emf:
        [metric] = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        assert doc["account_id"] == "demo" and doc[metric["Name"]] == 1
        counted[metric["Name"]] = counted.get(metric["Name"], 0) + 1
    assert counted == {"SmsSent": 3, "LinkOpened": 3, "SlotBooked": 3, "Rescheduled": 1, "Cancelled": 1}, counted


def kms():
    return aws_client("kms", MOTO_PORT)


def table_items() -> list[dict]:
    return scan_table(MOTO_PORT)


def open_sealed(sealed: str, account_id: str) -> str:
    """What the business's program does with `CallbackRequested.callback_number.sealed`
    (docs/architecture.md): KMS Decrypt of the data key under the context {account_id,
    purpose: callback-number}, then AES-256-GCM with "{account_id}\\0callback-number" as
    associated data."""
    version, key, nonce, ciphertext = sealed.split(".")
    assert version == "v1"
    context = {"account_id": account_id, "purpose": "callback-number"}
    data_key = kms().decrypt(CiphertextBlob=base64.b64decode(key), EncryptionContext=context)["Plaintext"]
    return AESGCM(data_key).decrypt(base64.b64decode(nonce), base64.b64decode(ciphertext),
                                    f"{account_id}\0callback-number".encode()).decode()


def test_an_english_prospect_asks_to_be_called_on_another_number(stack):
    """After the funnel test (it counts the bookings before it): a prospect whose browser
    prefers English books a callback on another number; the business gets it sealed and opens
    it, the table holds it sealed in its own item until the booking is cancelled."""
    token = texted(stack, "other-1", "+33600000601")
    english = {"accept-language": "en-GB,en;q=0.9,fr;q=0.8"}
    page = stack.request("GET", f"/r/{token}", headers=english)
    assert page.status == 200 and '<html lang="en">' in page.text
    assert "When would you like to be called back?" in page.text
    slot = slots_on_page(page.text)[0]
    # A premium-rate number is refused, with the form kept.
    refused = stack.request("POST", f"/r/{token}", urllib.parse.urlencode(
        {"slot": slot, "phone": "08 99 00 00 01", "lang": "en"}), {**FORM, **english})
    assert refused.status == 422 and "This number cannot be used for a callback" in refused.text
    booked = stack.request("POST", f"/r/{token}", urllib.parse.urlencode(
        {"slot": slot, "phone": "07 50 00 00 02", "lang": "en"}), {**FORM, **english})
    assert booked.status == 200, booked.text
    assert "will call you back on" in booked.text and ", on +33 7•• •• •• 02." in booked.text
    [event] = [e["detail"] for e in stack.events()
               if e["detail_type"] == "CallbackRequested" and e["detail"]["call_id"] == "other-1"]
    assert event["caller"] == "+33 6•• •• •• 01"
    assert event["callback_number"]["masked"] == "+33 7•• •• •• 02"
    assert event["consent"]["language"] == "en"
    assert open_sealed(event["callback_number"]["sealed"], "demo") == "+33750000002"
    # Sealed for its own purpose: it does not open as a caller's number (the sender's and the
    # callback reader's grants are kept apart by the key policy).
    _, key, _, _ = event["callback_number"]["sealed"].split(".")
    with pytest.raises(Exception):
        kms().decrypt(CiphertextBlob=base64.b64decode(key), EncryptionContext={"account_id": "demo"})
    # In the table: its own item, sealed, kept a week after the link's last day.
    items = table_items()
    [link] = [i for i in items if i["PK"]["S"] == f"LINK#{token}" and i["SK"]["S"] == "LINK"]
    [number] = [i for i in items if i["SK"]["S"].startswith("NUMBER#")]
    assert number["number"]["S"] == event["callback_number"]["sealed"]
    valid_until = datetime.fromisoformat(link["valid_until"]["S"].replace("Z", "+00:00"))
    assert int(number["expires_at"]["N"]) == int((valid_until + timedelta(days=7)).timestamp())
    booking = next(i for i in items if i["SK"]["S"].startswith("BOOKING#") and
                   i["booking"]["M"]["booking_id"]["S"] == event["booking_id"])
    assert booking["consent"]["M"]["language"]["S"] == "en"
    assert booking["consent"]["M"]["text"]["S"].startswith("By confirming, you ask")
    for needle in ("750000002", "33750000002", "07 50 00 00 02", "600000601"):
        assert needle not in json.dumps(items), needle
    # The prospect's own export shows it opened (a data-subject access request).
    env = dict(os.environ, MOTO_PORT=str(MOTO_PORT))
    out = subprocess.run([str(ROOT / "target" / "debug" / "rappel-admin"), "--local", "subject", "export",
                          "--account", "demo", "--number", "+33600000601"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    exported = json.loads(out.stdout)
    assert [b["number"] for b in exported["bookings"] if "masked" in b] == ["+33750000002"]
    # Cancelled: the number goes with it.
    assert stack.request("POST", f"/r/{token}/cancel", "", {**FORM, **english}).status == 200
    assert not [i for i in table_items() if i["SK"]["S"].startswith("NUMBER#")]


def test_every_event_matches_its_schema(stack):
    """Last: after the tests above, the module emitted each kind of booking event."""
    seen = assert_events_match_schemas(stack.events())
    assert {"MessageDue", "SmsSent", "CallbackRequested", "CallbackRescheduled", "CallbackCancelled"} <= seen, seen
