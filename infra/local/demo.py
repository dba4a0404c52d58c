#!/usr/bin/env python3
"""`make demo`: Rappel's main job on real provider webhooks, no AWS account.

Starts the local stack with a simulated clock on Friday 27 November 2026, replays the
webhooks of events/demo/ (Twilio and generic JSON, signed as each provider signs), moving the
clock to each call's time, then to the end of the scenario so deferred SMS go out at their due
time. Prints call → outcome, reason, due and sent times (Paris), the SMS texts, then books a
callback through the page's form and shows the CallbackRequested event.

Exits 1 if any call's outcome differs from what its fixture expects. Numbers are printed
masked only.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rappel_stack import (  # noqa: E402
    ROOT, Stack, load_account, load_fixture, parse_instant, rfc3339, slots_on_page, token_from_sms,
)

PARIS = ZoneInfo("Europe/Paris")
START = "2026-11-27T17:00:00Z"  # Friday 18:00 in Paris
END = "2026-12-28T12:00:00Z"  # after the last deferred send
ACCOUNT = "demo"


def paris(value: str | None) -> str:
    if not value:
        return "-"
    return parse_instant(value).astimezone(PARIS).strftime("%a %d %b %H:%M")


def run(stack: Stack, out=print) -> list[dict]:
    """Replay the scenario on `stack`; return one row per fixture with expected and actual."""
    account = load_account(ACCOUNT)
    secrets = account["webhook_secrets"]
    fixtures = sorted((ROOT / "events" / "demo").glob("*.json"))
    rows = []
    out(f"Replaying {len(fixtures)} provider webhooks from events/demo/ (simulated clock, Europe/Paris times)\n")
    for path in fixtures:
        fixture = load_fixture(path)
        stack.set_clock(fixture["at"])
        reply = stack.replay(fixture, ACCOUNT, secrets)
        if reply.status != 200:
            raise SystemExit(f"{path.name}: webhook answered {reply.status}: {reply.text}")
        stack.drain()
        rows.append({"fixture": path.stem, "note": fixture["note"], "provider": fixture["provider"],
                     "at": fixture["at"], "expect": fixture["expect"]})
    # A provider redelivers the first webhook: acknowledged, nothing changes.
    first = load_fixture(fixtures[0])
    redelivery = stack.replay(first, ACCOUNT, secrets)
    stack.set_clock(END)

    calls = stack.calls(ACCOUNT)
    by_order = sorted(calls, key=lambda c: c["received_at"])
    assert len(by_order) == len(rows), f"{len(by_order)} calls stored for {len(rows)} webhooks"
    for row, call in zip(rows, by_order):
        row["call"] = call
        row["ok"] = [call["outcome"], call["reason"]] == row["expect"]

    header = f"{'#':>2}  {'call (Paris)':<16} {'provider':<8} {'caller':<18} {'outcome':<10} {'reason':<21} {'due':<16} {'sent':<16}"
    out(header)
    out("-" * len(header))
    for i, row in enumerate(rows, 1):
        c = row["call"]
        mark = "" if row["ok"] else f"   <-- expected {row['expect'][0]}/{row['expect'][1]}"
        out(f"{i:>2}  {paris(row['at']):<16} {row['provider']:<8} {c['caller']:<18} {c['outcome']:<10} "
            f"{c['reason']:<21} {paris(c['due_at']):<16} {paris(c['sent_at']):<16}{mark}")
    out("")
    for i, row in enumerate(rows, 1):
        out(f"{i:>2}. {row['note']}")
    out(f"\nRedelivery of webhook 1: HTTP {redelivery.status}, calls stored still {len(stack.calls(ACCOUNT))}.")

    outbox = stack.outbox()
    masked = {c["message_id"]: c["caller"] for c in calls if c.get("message_id")}
    out(f"\n{len(outbox)} SMS sent (sender ID, recipient masked):")
    for sms in outbox:
        out(f"  {paris(sms['sent_at'])}  {sms['sender_id']} → {masked.get(sms['message_id'], '?')}: {sms['body']}")
    return rows


def book(stack: Stack, out=print) -> dict:
    """Open the latest SMS's link, pick the first slot, book it; return the CallbackRequested event."""
    latest = stack.outbox()[-1]
    token = token_from_sms(latest["body"])
    page = stack.request("GET", f"/r/{token}")
    assert page.status == 200, page.text
    slots = slots_on_page(page.text)
    assert slots, "the booking page offers no slot"
    form = urllib.parse.urlencode({"slot": slots[0], "name": "Camille", "message": "Devis pour une fuite"})
    reply = stack.request("POST", f"/r/{token}", form, {"content-type": "application/x-www-form-urlencoded"})
    assert reply.status == 200, reply.text
    event = [e for e in stack.events() if e["detail_type"] == "CallbackRequested"][-1]
    out(f"\nThe Christmas Eve caller opens the link (/r/{token[:6]}…), sees {len(slots)} slots and books {paris(slots[0])}:")
    out("  CallbackRequested " + json.dumps(event["detail"], ensure_ascii=False, indent=2).replace("\n", "\n  "))
    return event


def main() -> int:
    port = int(os.environ.get("RAPPEL_PORT", "3000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5055"))
    with Stack(port=port, moto_port=moto_port, clock=START) as stack:
        rows = run(stack)
        book(stack)
    failed = [r for r in rows if not r["ok"]]
    if failed:
        print(f"\nDEMO FAILED: {len(failed)} call(s) did not get the expected outcome.")
        return 1
    print(f"\nAll {len(rows)} calls got the expected outcome. Runner log: {stack.log_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
