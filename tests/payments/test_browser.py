"""The refund screen in a real browser: above the Support limit it waits for a Support lead."""

import os
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.payments.urls"),
]

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path("/tmp/screens")


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium to run browser tests")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-pw")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()


def test_support_refund_above_limit_is_approved_by_lead(
    browser, live_server, paid_payment, support, support_lead, stripe_psp
):
    SCREENS.mkdir(exist_ok=True)
    payment = paid_payment(300_00)
    base = live_server.url

    sam = browser.new_context().new_page()
    _login(sam, base, support.username)
    sam.goto(f"{base}/payments/{payment.pk}/refund")
    assert sam.input_value("input[name=amount]") == "300.00"
    assert "You can refund up to €100.00 yourself" in sam.inner_text("#limit")
    sam.fill("input[name=amount]", "250.00")
    sam.select_option("select[name=reason]", "REQUESTED_BY_CUSTOMER")
    sam.fill("textarea[name=note]", "Customer cancelled in the first week")
    sam.screenshot(path=str(SCREENS / "refund_form.png"), full_page=True)
    sam.click("#continue")
    assert "wait for approval" in sam.inner_text("#approval-note")
    sam.click("#confirm")
    assert sam.inner_text("#outcome") == "Waiting for approval by a Support lead or Finance admin"
    sam.click("#approval-link")
    approval_url = sam.url
    # the requester sees no approve button, and a direct POST is refused
    assert sam.locator("button[value=approve]").count() == 0
    csrf = sam.context.cookies()
    token = next(c["value"] for c in csrf if c["name"] == "csrftoken")
    forged = sam.request.post(
        approval_url + "decide/",
        form={"decision": "approve", "csrfmiddlewaretoken": token},
        headers={"Referer": approval_url},
    )
    assert forged.status == 403
    assert stripe_psp.requests_to("POST", "/v1/refunds") == []

    lena = browser.new_context().new_page()
    _login(lena, base, support_lead.username)
    lena.goto(approval_url)
    lena.screenshot(path=str(SCREENS / "refund_approval.png"), full_page=True)
    lena.click("button[value=approve]")
    lena.wait_for_load_state()
    assert "Approved" in lena.content()

    assert len(stripe_psp.requests_to("POST", "/v1/refunds")) == 1
    assert len(stripe_psp.refunds) == 1
    assert next(iter(stripe_psp.refunds.values()))["amount"] == 250_00
