#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/ (idempotent; files are named seed-*).

Provider targets get, for every events/providers/<provider>-*.json:
  * seed-<event>        : the raw body string only;
  * seed-<event>.hdr    : body \\0 public_url \\0 <the event's signature header values>
                          (timestamps moved to the harness clock, NOW below), so verify's
                          header parsing is reached from the start.
The other targets get values taken from the same events (numbers) or from the docs/tests.
"""
import base64, json, os, pathlib, re, urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent
EVENTS = ROOT.parent / "events" / "providers"
CORPUS = ROOT / "corpus"
NOW = "1741082400"  # keep in sync with src/lib.rs NOW

HEADERS = {  # header names in the order the target reads them (fuzz_targets/<p>.rs)
    "twilio": ["x-twilio-signature"],
    "generic": ["x-rappel-timestamp", "x-rappel-signature"],
    "telnyx": ["telnyx-timestamp", "telnyx-signature-ed25519"],
    "aircall": [],
    "plivo": ["x-plivo-signature-v3", "x-plivo-signature-v3-nonce"],
    "vonage": ["authorization"],
}


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)


numbers = set()
for f in sorted(EVENTS.glob("*.json")):
    provider = f.name.split("-", 1)[0]
    if provider not in HEADERS:
        continue
    ev = json.loads(f.read_text())
    body = ev["body"] if isinstance(ev["body"], str) else json.dumps(ev["body"], separators=(",", ":"))
    write(provider, f.stem, body)

    url = f"https://hooks.example.test/webhooks/{provider}/acme"
    values = []
    for h in HEADERS[provider]:
        v = ev["headers"].get(h, "")
        if h.endswith("timestamp"):
            v = NOW
        values.append(v)
    parts = [body, url] + values
    if provider == "vonage":  # 4th part: claims for the harness's self-signed JWT
        tok = ev["headers"].get("authorization", "").removeprefix("Bearer ")
        try:
            seg = tok.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
            claims["iat"] = int(NOW)
            parts.append(json.dumps(claims, separators=(",", ":")))
        except (IndexError, ValueError):
            pass
    if values or provider == "aircall":
        write(provider, f.stem + ".hdr", "\0".join(parts))

    # numbers for phone_classify
    if body.startswith("{"):
        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if isinstance(v, str) and k.lower() in ("from", "to", "raw_digits", "number", "caller", "called"):
                        numbers.add(v)
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(json.loads(body))
    else:
        for k, v in urllib.parse.parse_qsl(body, keep_blank_values=True):
            if k in ("From", "To", "Caller", "Called", "DialBLegTo"):
                numbers.add(v)

numbers |= {
    "+33600000001", "33600000001", "+33 6 00 00 00 01", "0600000001", "0033600000001",
    "anonymous", "sip:+33600000001@host", "sip:anonymous@anonymous.invalid",
    "<tel:+33144000000;ext=12>", "+262692000001", "+1 (415) 555-0100", "+7378742833", "",
    "0262262000001\0RE", "06 00 00 00 01\0fr", "+44 20 7946 0000\0GB",
}
for i, n in enumerate(sorted(numbers)):
    write("phone_classify", f"{i:03}", n)

templates = [
    "{company} : nous avons manqué votre appel. Choisissez quand nous vous rappelons : {link} Stop SMS : {optout}",
    "{company} : nous avons manqué votre appel. Choisissez quand nous vous rappelons : {link} STOP au {short_code}",
    "{company}: {link}",
    "Rappel: {link} STOP 36173",
    "{company} vous rappelle’ {link} STOP 36173\0Plomberie Martin\0(",
    "{company} — appel manqué 😀 {link} Stop\0Société Ünïcode\0\x10",
    "[{company}] ~ ^{link}^ | € STOP\0A&B\0\x7f",
]
for i, t in enumerate(templates):
    write("sms_segments", f"{i:03}", t)

accounts = [
    (ROOT.parent / "infra" / "local" / "accounts" / "demo.json").read_text(),
    '{"account_id":"plomberie-martin","company_name":"Plomberie Martin"}',
    '{"account_id":"a","company_name":"Acme","sending_hours":{"start":"07:30:00","end":"20:00:00"}}',
    '{"account_id":"a","company_name":"Acme","timezone":"Europe/Pariss"}',
    '{"account_id":"a","company_name":"Acme","message_template":"{company}: {link}"}',
    '{"account_id":"a","company_name":"Acme","webhook_secrets":{"twilio":"tok1","generic":["old","new"]}}',
    '{"account_id":"a","company_name":"Acmé & Fils","enabled":false,"holiday_zone":"metropole",'
    '"allowed_countries":["FR","RE"],"max_deferral_hours":48,"booking_base_url":"https://book.example.test/r",'
    '"callback_hours":{"ranges":[{"days":["Mon","Tue"],"start":"09:00:00","end":"12:00:00"}],"slot_minutes":15},'
    '"shred_number_after_send":true,"voicemail_is_missed":false}',
]
for i, a in enumerate(accounts):
    write("account_from_json", f"{i:03}", a)

b = lambda x: base64.b64encode(x).decode()
sealed = [
    f"v1.{b(bytes(range(40)))}.{b(bytes(12))}.{b(bytes(range(30)))}",
    f"v1.{b(b'k')}.{b(bytes(11))}.{b(b'')}",
    "v1...",
    "v2.AA==.AAAAAAAAAAAAAAAA.AA==",
]
for i, s in enumerate(sealed):
    write("sealed_decode", f"{i:03}", s)

print({d.name: len(list(d.iterdir())) for d in sorted(CORPUS.iterdir())})
