"""Chaos: missed calls from all six providers through the local stack while 20 % of the
handlers' AWS calls are throttled, fail with a 500, have their connection reset before or after
moto applied them, or are delayed (infra/local/faults.py, `RAPPEL_FAULTS`). Redeliveries,
out-of-order legs, answered calls and callbacks are mixed in, and the clock crosses nights,
Christmas Day (a public holiday) and a weekend.

After faults stop and the clock has moved on, the three promises must hold:
  * at most one SMS per caller per local send day (duplicates: 0);
  * every call a provider got a 2xx for is stored with a final outcome (lost: 0);
  * no test number in clear in the log, the table, the events or the HTTP answers.

Size: `RAPPEL_CHAOS_RUNS` runs (default 1) of `RAPPEL_CHAOS_CALLS` calls (default 60) each,
every run on a fresh local stack with its own seed (`RAPPEL_CHAOS_SEED`, default 6, then 7,
8...): `make test` runs one, `make chaos` ten (600 calls). Runs are kept small because moto
copies the whole table to roll back each cancelled transaction: one stack with 600 calls would
spend its time there, not in Rappel. Each run's figures are printed and written to
`.local/chaos-report-{seed}.json`; with several runs, the totals too (`.local/chaos-report.json`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

import test_providers as tp
from rappel_stack import Stack, parse_instant

# Each run has ports of its own: a stopping moto may still hold the previous run's.
def ports(seed: int) -> tuple[int, int, int]:
    """(runner, moto, fault proxy) ports of the run with `seed`."""
    i = SEEDS.index(seed)
    return 3400 + i, 5400 + 2 * i, 5401 + 2 * i
CALLS = int(os.environ.get("RAPPEL_CHAOS_CALLS", "60"))
SEED = int(os.environ.get("RAPPEL_CHAOS_SEED", "6"))
RUNS = int(os.environ.get("RAPPEL_CHAOS_RUNS", "1"))
SEEDS = [SEED + i for i in range(RUNS)]
REPORTS: dict[int, dict] = {}
RATE = float(os.environ.get("RAPPEL_CHAOS_RATE", "0.2"))
PARIS = ZoneInfo("Europe/Paris")
FINAL = {"sent", "skipped", "cancelled", "expired", "failed", "ignored"}

# Thursday 24 December 2026, 10:00 Paris; then Christmas Eve night, Christmas Day (holiday),
# Saturday 26, Sunday 27 (deferred to Monday 28), Monday 28.
PHASES = ["2026-12-24T09:00:00Z", "2026-12-24T19:30:00Z", "2026-12-25T10:00:00Z",
          "2026-12-26T14:00:00Z", "2026-12-27T11:00:00Z", "2026-12-28T09:00:00Z"]
END = "2026-12-28T12:00:00Z"


def callers(count: int) -> list[str]:
    """Distinct test mobiles, none ending in 99 (opted out at moto's carrier)."""
    numbers = [n for n in range(3000, 9000) if n % 100 != 99][:count]
    return [f"+3360000{n:04d}" if n % 2 else f"+3375000{n:04d}" for n in numbers]


@pytest.fixture
def stack(tmp_path_factory, seed):
    accounts = tmp_path_factory.mktemp("accounts")
    shutil.copy(tp.ACCOUNT_FILE, accounts / tp.ACCOUNT_FILE.name)
    log = tmp_path_factory.mktemp("logs") / "rappel-local.log"
    spec = f"rate={RATE},seed={seed},kinds=throttle+error500+reset_before+reset_after+delay,delay_ms=300"
    port, moto_port, faults_port = ports(seed)
    with Stack(port=port, moto_port=moto_port, clock=PHASES[0], accounts_dir=str(accounts), log_path=log,
               faults=spec, faults_port=faults_port) as s:
        s.log = log
        yield s


def send(stack: Stack, provider: str, body: str, answers: list) -> int:
    """POST like a provider: retried (as providers do) until a 2xx, at most 8 times."""
    status = 0
    for _ in range(8):
        reply = tp.post(stack, provider, body, tp.SIGNING[provider])
        answers.append(reply.text)
        status = reply.status
        if 200 <= status < 300:
            break
    return status


@pytest.mark.parametrize("seed", SEEDS)
def test_chaos_keeps_the_three_promises(stack, seed):
    rng = random.Random(seed)
    per_phase = max(1, CALLS // len(PHASES))
    handed: dict[str, tuple[str, str, str]] = {}  # call_id -> (provider, kind, caller)
    answers: list[str] = []
    refused = 0
    pending_leg = 0
    numbers = callers(max(8, CALLS * 2 // 3))
    n = 0
    for phase in PHASES:
        stack.set_clock(phase)
        for _ in range(per_phase):
            n += 1
            provider = tp.PROVIDERS[n % len(tp.PROVIDERS)]
            who = rng.choice(numbers)
            roll = rng.random()
            kind = ("answered" if roll < 0.15 else "redelivered" if roll < 0.3
                    else "out_of_order" if roll < 0.4 and provider in ("vonage", "telnyx") else "missed")
            at = stack.now() - timedelta(seconds=rng.randint(5, 40))
            call = tp.BUILD[provider](f"chaos-{seed}-{n}", who, kind == "answered", at)
            bodies = list(call.bodies)
            if kind == "redelivered":
                bodies += bodies
            if kind == "out_of_order":
                # The deciding event first (its earlier leg is "being retried"): kept pending.
                deciding = call.bodies[5] if provider == "vonage" else call.bodies[-1]
                pending_leg += 200 <= send(stack, provider, deciding, answers) < 300
            ok = all(200 <= send(stack, provider, body, answers) < 300 for body in bodies)
            if ok:
                handed[call.call_id] = (provider, kind, who)
            else:
                refused += 1
            if n % 20 == 0:
                stack.drain()  # what the background drain would have done meanwhile
            if n % 7 == 0:
                # The business calls a caller back (outbound, answered): cancels a pending SMS.
                called = rng.choice(numbers)
                back = tp.generic_call(f"chaos-{seed}-{n}-callback", called, True, at)
                value = json.loads(back.bodies[0]) | {"direction": "outbound", "from": tp.TRACKED,
                                                      "to": json.loads(back.bodies[0])["from"]}
                if 200 <= send(stack, "generic", json.dumps(value, separators=(",", ":")), answers) < 300:
                    handed[back.call_id] = ("generic", "callback", called)
        stack.drain()

    # Faults stop; time goes on (past every deferral, the in-flight timeout, re-decide runs).
    faults = stack.faults()
    stack.set_faults(enabled=False)
    end = parse_instant(END)
    t = stack.now()
    while t < end:
        t = min(end, t + timedelta(minutes=5))
        stack.set_clock(t)
    stack.drain()

    calls = {c["call_id"]: c for c in stack.calls(tp.ACCOUNT)}
    outbox = stack.outbox()
    # SMS per caller and local day: those published, plus those that may have left (Publish
    # failed after it may have gone through: `send_uncertain`, `send_interrupted`).
    per_day: dict[tuple[str, str], int] = {}
    for sms in outbox:
        day = parse_instant(sms["sent_at"]).astimezone(PARIS).date().isoformat()
        per_day[(sms["to"], day)] = per_day.get((sms["to"], day), 0) + 1
    maybe = [cid for cid, c in calls.items() if c["reason"] in ("send_uncertain", "send_interrupted")]
    for cid in maybe:
        if cid in handed and calls[cid].get("due_at"):
            day = parse_instant(calls[cid]["due_at"]).astimezone(PARIS).date().isoformat()
            key = (handed[cid][2], day)
            per_day[key] = per_day.get(key, 0) + 1
    duplicates = sum(count - 1 for count in per_day.values() if count > 1)
    lost = [cid for cid in handed if cid not in calls or calls[cid]["outcome"] not in FINAL]
    holidays = {"2026-12-25"}

    def allowed(sent_at: str) -> bool:
        local = parse_instant(sent_at).astimezone(PARIS)
        return 8 <= local.hour < 20 and local.weekday() != 6 and local.date().isoformat() not in holidays

    off_hours = [s["message_id"] for s in outbox if not allowed(s["sent_at"])]

    # No number in clear: the runner's log, the table, the events, the HTTP answers.
    scanned = set(numbers) | {tp.TRACKED}
    # (The banner before "Control routes:" shows a sample curl with test numbers on purpose.)
    texts = {"log": stack.log.read_text(errors="replace").split("Control routes:", 1)[1], "table": json.dumps(tp.table_items(stack.moto_port)),
             "events": json.dumps(stack.events()), "answers": "\n".join(answers)}
    in_clear = [(where, tp.mask(num)) for where, text in texts.items() for num in scanned
                for form in tp.clear_forms(num) if form in text]

    outcomes: dict[str, int] = {}
    for c in calls.values():
        key = f"{c['outcome']}/{c['reason']}"
        outcomes[key] = outcomes.get(key, 0) + 1
    report = {
        "calls_handed": len(handed), "webhooks_refused_after_retries": refused,
        "early_legs_kept_pending": pending_leg,
        "aws_requests": faults["requests"], "faults_injected": faults["injected"],
        "sms_sent": len(outbox), "sms_maybe_sent": len(maybe), "duplicates": duplicates,
        "lost_calls": len(lost), "sms_outside_hours": len(off_hours), "numbers_in_clear": len(in_clear),
        "outcomes": outcomes,
    }
    out = tp.ROOT / ".local" / f"chaos-report-{seed}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    REPORTS[seed] = report
    print(f"\nchaos ({CALLS} calls, seed {seed}, rate {RATE}): {json.dumps(report)}")

    assert sum(faults["injected"].values()) > 0, "faults were injected"
    assert duplicates == 0, report
    assert lost == [], report
    assert off_hours == [], report
    assert in_clear == [], report
    assert refused == 0, report


def test_chaos_totals():
    """With several runs (`make chaos`), the figures summed over all of them."""
    if len(REPORTS) < 2:
        pytest.skip("one run: its figures are printed above")
    totals: dict = {"runs": len(REPORTS), "calls_per_run": CALLS}
    for report in REPORTS.values():
        for key, value in report.items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
            elif key == "faults_injected":
                faults = totals.setdefault(key, {})
                for kind, n in value.items():
                    faults[kind] = faults.get(kind, 0) + n
    out = tp.ROOT / ".local" / "chaos-report.json"
    out.write_text(json.dumps(totals, indent=2))
    print(f"\nchaos totals: {json.dumps(totals)}")
    assert totals["duplicates"] == 0 and totals["lost_calls"] == 0 and totals["numbers_in_clear"] == 0
