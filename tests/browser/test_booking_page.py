"""The booking page in a real browser (Debian's chromium driven by chromedriver through
Selenium), against the local stack, at a phone's viewport (390×844): what a prospect does after
the SMS. Each test saves a screenshot under target/browser/ so a person can look at what the
prospect sees; `axe-core` (npm, injected into the page) checks accessibility.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium chromium-driver`;
`.ci/run` installs them) and `npm ci --prefix tests/browser` (axe-core). Without the browser the
tests are skipped with that message, unless RAPPEL_REQUIRE_BROWSER=1 (set by .ci/run), which
makes a missing browser a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from rappel_stack import assert_events_match_schemas, Stack, load_account, rfc3339  # noqa: E402

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "target" / "browser"
PORT, MOTO_PORT = 3331, 5331
MONDAY_1000 = "2026-11-30T09:00:00Z"
SECRET = load_account("demo")["webhook_secrets"]["generic"]
REPORT: dict = {}

missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER, AXE) if not p.exists()]
if missing:
    reason = f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver; npm ci --prefix tests/browser)"
    if os.environ.get("RAPPEL_REQUIRE_BROWSER") == "1":
        raise RuntimeError(reason)
    pytest.skip(reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait as _Wait  # noqa: E402


def WebDriverWait(driver, seconds):  # noqa: N802 - the Selenium name, made patient with reloads
    # While a form post loads the next page, an element read a moment earlier is gone: Selenium
    # says so as NoSuchElement or StaleElementReference, and chromedriver sometimes as a bare
    # "Node with given id does not belong to the document". Every one of these is retried until
    # the timeout, which still fails the test.
    return _Wait(driver, seconds, ignored_exceptions=(WebDriverException,))


def wait_for(driver, css: str, seconds: float = 15):
    """The element once the page that shows it has loaded (after a form post)."""
    try:
        return WebDriverWait(driver, seconds).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))
    except Exception:
        shot(driver, "failure")
        raise AssertionError(f"{css} not found on {driver.current_url}: {driver.find_element(By.TAG_NAME, 'body').text[:500]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("accounts")
    shutil.copy(ROOT / "infra" / "local" / "accounts" / "demo.json", accounts / "demo.json")
    log = tmp_path_factory.mktemp("logs") / "rappel-local.log"
    with Stack(port=PORT, moto_port=MOTO_PORT, clock=MONDAY_1000, accounts_dir=str(accounts), log_path=log) as s:
        yield s
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "report.json").write_text(json.dumps(REPORT, indent=2, ensure_ascii=False))


def phone_browser(languages: str):
    """Chromium at a phone's viewport whose user prefers `languages` (Accept-Language)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=390,844", f"--lang={languages.split(',')[0]}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": languages})
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0}})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = phone_browser("fr-FR,fr")
    yield driver
    driver.quit()


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5_000, f"{name}: an empty screenshot"
    return path


def missed_call(stack: Stack, call_id: str, number: str) -> dict:
    at = rfc3339(stack.now())
    body = json.dumps({"call_id": call_id, "direction": "inbound", "status": "no_answer", "from": number,
                       "to": "+33144000000", "started_at": at, "ended_at": at, "ring_seconds": 20})
    assert stack.webhook("generic", "demo", body, {"content-type": "application/json"}, SECRET).status == 200
    stack.drain()
    [sms] = [s for s in stack.outbox() if s["to"] == number]
    return sms


def link(sms: dict, kind: str) -> str:
    match = re.search(rf"(http://\S+/{kind}/[A-Za-z0-9_-]{{22}})", sms["body"])
    assert match, f"no /{kind}/ link in the SMS"
    return match.group(1)


def axe(driver) -> list[dict]:
    """Run axe-core on the current page; its violations (rule id, impact, node count)."""
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))));")
    return result


def test_a_prospect_books_a_callback_from_the_sms_link(stack, browser):
    sms = missed_call(stack, "browser-book", "+33600000401")
    started = time.monotonic()
    browser.get(link(sms, "r"))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Quand souhaitez-vous être rappelé")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    shot(browser, "1-slots")
    violations = axe(browser)
    REPORT["axe_slots_page"] = violations
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    REPORT["page_bytes"] = len(browser.page_source.encode())
    # The first slot offered, by tapping its label, then the button.
    first = browser.find_element(By.CSS_SELECTOR, "label.slot")
    chosen = first.text
    first.click()
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    status = wait_for(browser, "[role=status]").text
    REPORT["seconds_link_to_confirmation"] = round(time.monotonic() - started, 2)
    assert "vous rappellera le" in status and chosen in status, status
    shot(browser, "2-confirmed")
    REPORT["axe_confirmation_page"] = axe(browser)
    assert [v for v in REPORT["axe_confirmation_page"] if v["impact"] in ("serious", "critical")] == []
    booked = [e for e in stack.events() if e["detail_type"] == "CallbackRequested"]
    assert len(booked) == 1 and booked[0]["detail"]["caller"] == "+33 6•• •• •• 01"

    # A change of mind: another slot (inside "Changer de créneau"), then cancel.
    browser.find_element(By.CSS_SELECTOR, "details.change summary").click()
    other = browser.find_element(By.CSS_SELECTOR, "details.change label.slot")
    other_time = other.text
    other.click()
    browser.find_element(By.CSS_SELECTOR, "details.change button.primary").click()
    WebDriverWait(browser, 15).until(
        lambda d: other_time in d.find_element(By.CSS_SELECTOR, "[role=status]").text)
    shot(browser, "2b-rescheduled")
    moved = [e["detail"] for e in stack.events() if e["detail_type"] == "CallbackRescheduled"]
    assert len(moved) == 1 and moved[0]["previous_slot"] == booked[0]["detail"]["slot"]
    browser.find_element(By.XPATH, "//button[contains(., 'Annuler le rappel')]").click()
    WebDriverWait(browser, 15).until(
        lambda d: "Votre rappel est annulé" in d.find_element(By.TAG_NAME, "main").text)
    shot(browser, "2c-cancelled")
    assert [v for v in axe(browser) if v["impact"] in ("serious", "critical")] == []
    cancelled = [e["detail"] for e in stack.events() if e["detail_type"] == "CallbackCancelled"]
    assert len(cancelled) == 1 and cancelled[0]["booking_id"] == booked[0]["detail"]["booking_id"]


def test_a_prospect_opts_out_from_the_sms_opt_out_link(stack, browser):
    sms = missed_call(stack, "browser-optout", "+33600000402")
    browser.get(link(sms, "o"))
    shot(browser, "3-opt-out-confirm")
    assert [v for v in axe(browser) if v["impact"] in ("serious", "critical")] == []
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    WebDriverWait(browser, 15).until(lambda d: "plus de SMS" in d.find_element(By.TAG_NAME, "main").text
                                     and not d.find_elements(By.CSS_SELECTOR, "form button"))
    assert "Vous ne recevrez plus de SMS de Plomberie Martin" in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "4-opted-out")
    assert any(e["detail_type"] == "OptedOut" for e in stack.events())


def test_an_english_speaker_books_a_callback_on_another_number(stack):
    sms = missed_call(stack, "browser-english", "+33600000404")
    driver = phone_browser("en-GB,en")
    try:
        driver.get(link(sms, "r"))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert driver.find_element(By.TAG_NAME, "h1").text == "When would you like to be called back?"
        driver.find_element(By.CSS_SELECTOR, "label.slot").click()
        # A premium-rate number first: refused, said next to the form, the field marked.
        phone = driver.find_element(By.ID, "phone")
        assert driver.find_element(By.CSS_SELECTOR, "label[for=phone]").text.startswith("Call me on another number")
        phone.send_keys("08 99 00 00 01")
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        error = wait_for(driver, "[role=alert]").text
        assert "This number cannot be used for a callback" in error, error
        assert driver.find_element(By.ID, "phone").get_attribute("aria-invalid") == "true"
        shot(driver, "6-english-number-refused")
        REPORT["axe_english_error_page"] = axe(driver)
        assert [v for v in REPORT["axe_english_error_page"] if v["impact"] in ("serious", "critical")] == []
        # Corrected: booked, confirmed with the number masked.
        phone = driver.find_element(By.ID, "phone")
        phone.clear()
        phone.send_keys("07 50 00 00 03")
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        status = wait_for(driver, "[role=status]").text
        assert "Plomberie Martin will call you back on" in status and "+33 7•• •• •• 03" in status, status
        shot(driver, "7-english-confirmed")
        page = driver.page_source
        assert "750000003" not in page and "07 50 00 00 03" not in page
        [event] = [e["detail"] for e in stack.events()
                   if e["detail_type"] == "CallbackRequested" and e["detail"]["call_id"] == "browser-english"]
        assert event["callback_number"]["masked"] == "+33 7•• •• •• 03"
        assert event["callback_number"]["sealed"].startswith("v1.")
        assert event["consent"]["language"] == "en"
    finally:
        driver.quit()


def test_an_expired_link_says_so_and_still_offers_the_opt_out(stack, browser):
    sms = missed_call(stack, "browser-expired", "+33600000403")
    stack.set_clock(stack.now() + timedelta(days=9))
    browser.get(link(sms, "r"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Ce lien a expiré"
    assert browser.find_elements(By.CSS_SELECTOR, "form button"), "the opt-out button is still there"
    shot(browser, "5-expired")
    assert [v for v in axe(browser) if v["impact"] in ("serious", "critical")] == []


def test_every_event_of_the_browser_session_matches_its_schema(stack):
    seen = assert_events_match_schemas(stack.events())
    assert {"CallbackRequested", "CallbackRescheduled", "CallbackCancelled", "OptedOut"} <= seen, seen
