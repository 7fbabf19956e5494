import io
import json
import logging
import logging.config
import sys
import uuid

import pytest

from common.logging import (
    JsonFormatter,
    RequestIdFilter,
    RequestIdMiddleware,
    ScrubFilter,
    build_logging_config,
    get_request_id,
    scrub,
    use_request_id,
)
from common.money import Money


class JsonLog:
    """A logger whose handler is wired like production, writing into a string buffer."""

    def __init__(self, **scrub_options):
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.addFilter(RequestIdFilter())
        handler.addFilter(ScrubFilter(**scrub_options))
        handler.setFormatter(JsonFormatter())
        self.logger = logging.getLogger(f"paydesk.test.{uuid.uuid4().hex}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(handler)
        self.handler = handler

    def raw(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.raw().splitlines()]

    def only_line(self) -> dict:
        (line,) = self.lines()
        return line

    def close(self):
        self.logger.removeHandler(self.handler)


@pytest.fixture
def log():
    captured = JsonLog()
    yield captured
    captured.close()


# --- JSON lines ---------------------------------------------------------------------------


def test_each_record_is_one_json_line_with_core_fields(log):
    log.logger.info("invoice %s finalized", "INV-1", extra={"invoice_id": 7})
    log.logger.warning("second")

    first, second = log.lines()
    assert first["message"] == "invoice INV-1 finalized"
    assert first["level"] == "INFO"
    assert first["logger"] == log.logger.name
    assert first["invoice_id"] == 7
    assert first["request_id"] is None
    assert first["timestamp"].endswith("Z") and "T" in first["timestamp"]
    assert second["level"] == "WARNING"


def test_extra_values_that_json_cannot_encode_are_written_as_text(log):
    log.logger.info("charged", extra={"amount": Money(1230, "EUR"), "tags": {"b", "a"}})
    line = log.only_line()
    assert line["amount"] == "12.30 EUR"
    assert line["tags"] == ["a", "b"]


def test_extra_field_cannot_overwrite_core_field(log):
    log.logger.info("hello", extra={"level": "fake", "logger": "fake"})
    line = log.only_line()
    assert line["level"] == "INFO"
    assert line["extra_level"] == "fake"


def test_exception_is_included_and_scrubbed(log):
    try:
        raise ValueError("bad card 4242424242424242")
    except ValueError:
        log.logger.exception("charge failed")
    line = log.only_line()
    assert "ValueError" in line["exc_info"]
    assert "4242424242424242" not in log.raw()
    assert "****4242" in line["exc_info"]


# --- scrubbing in real output -------------------------------------------------------------


@pytest.mark.parametrize(
    "card", ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "378282246310005"]
)
def test_card_numbers_in_message_are_masked(log, card):
    log.logger.info("customer typed %s into the note", card)
    raw = log.raw()
    assert card not in raw
    assert card.replace(" ", "").replace("-", "") not in raw
    message = log.only_line()["message"]
    assert message == f"customer typed [card ****{card[-4:]}] into the note"


def test_card_number_in_preformatted_message_is_masked(log):
    log.logger.info("pan=4000056655665556 declined")
    assert "4000056655665556" not in log.raw()
    assert "5556" in log.only_line()["message"]


def test_order_number_that_fails_luhn_is_kept(log):
    log.logger.info("order %s shipped", "1234567812345678")
    assert log.only_line()["message"] == "order 1234567812345678 shipped"


def test_card_next_to_another_number_is_still_masked(log):
    log.logger.info("ref 12 4242 4242 4242 4242")
    assert log.only_line()["message"] == "ref 12 [card ****4242]"


def test_cvv_in_extra_is_redacted(log):
    log.logger.info("card added", extra={"cvv": "737", "card_cvc": 123, "last4": "4242"})
    line = log.only_line()
    assert line["cvv"] == "[redacted]"
    assert line["card_cvc"] == "[redacted]"
    assert line["last4"] == "4242"
    assert "737" not in log.raw()


def test_nested_extra_values_are_scrubbed(log):
    payload = {"card": {"number": "4242424242424242", "security_code": "999"}, "items": [1, 2]}
    log.logger.info("psp request", extra={"payload": payload})
    line = log.only_line()
    assert line["payload"] == {
        "card": {"number": "[card ****4242]", "security_code": "[redacted]"},
        "items": [1, 2],
    }
    assert payload["card"]["security_code"] == "999", "the caller's object is left untouched"


def test_dict_argument_is_scrubbed_by_key_before_formatting(log):
    log.logger.info("webhook body %s", {"password": "hunter2", "amount": 5})
    message = log.only_line()["message"]
    assert "hunter2" not in message
    assert "'amount': 5" in message


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("sk_test_51HxYzAbCdEf0123456789", "sk_test_[redacted]"),
        ("sk_live_51HxYzAbCdEf0123456789", "sk_live_[redacted]"),
        ("whsec_a1B2c3D4e5F6", "whsec_[redacted]"),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc-def", "Bearer [redacted]"),
    ],
)
def test_secrets_in_message_are_masked(log, secret, shown):
    log.logger.error("calling PSP with %s failed", secret)
    assert secret not in log.raw()
    assert log.only_line()["message"] == f"calling PSP with {shown} failed"


def test_sensitive_keys_are_configurable():
    captured = JsonLog(sensitive_keys={"iban"})
    try:
        captured.logger.info("payout", extra={"iban": "DE89370400440532013000", "cvv": "1"})
        line = captured.only_line()
        assert line["iban"] == "[redacted]"
        assert line["cvv"] == "1"
    finally:
        captured.close()


# --- scrub() itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cvv=123&amount=5", "cvv=[redacted]&amount=5"),
        ('{"cvc": "123", "amount": 5}', '{"cvc": "[redacted]", "amount": 5}'),
        ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
        ('{"authorization": "Basic dXNlcjpwYXNz"}', '{"authorization": "[redacted]"}'),
        ("moved to the Basic plan", "moved to the Basic plan"),
        ("payment_method_token=tok_123", "payment_method_token=tok_123"),
        ("the password is wrong", "the password is wrong"),
        ("amount 1234567890123 cents", "amount 1234567890123 cents"),
        ("a 25 digit id 4242424242424242424242424", "a 25 digit id 4242424242424242424242424"),
    ],
)
def test_scrub_text(text, expected):
    assert scrub(text) == expected


def test_scrub_keeps_types_of_harmless_values():
    value = {"n": 5, "ok": True, "none": None, "ids": (1, 2), "big": 1234567812345678}
    assert scrub(value) == value
    assert scrub(4242424242424242) == "[card ****4242]"


def test_sensitive_key_names_are_matched_loosely():
    assert scrub({"CVV": 1, "Card-CVC": 2, "API_KEY": 3, "Security-Code": 4}) == {
        "CVV": "[redacted]",
        "Card-CVC": "[redacted]",
        "API_KEY": "[redacted]",
        "Security-Code": "[redacted]",
    }


# --- request id ---------------------------------------------------------------------------


class FakeRequest:
    def __init__(self, request_id=None):
        self.META = {} if request_id is None else {"HTTP_X_REQUEST_ID": request_id}


class FakeResponse(dict):
    pass


def run_middleware(log, request):
    def view(request):
        log.logger.info("handling")
        return FakeResponse()

    return RequestIdMiddleware(view)(request)


def test_incoming_request_id_is_logged_and_echoed(log):
    response = run_middleware(log, FakeRequest("abc-123.DEF_4"))
    assert log.only_line()["request_id"] == "abc-123.DEF_4"
    assert response["X-Request-ID"] == "abc-123.DEF_4"
    assert get_request_id() is None, "the id does not leak past the request"


@pytest.mark.parametrize(
    "incoming", [None, "", "x" * 129, "id with spaces", "id\nforged: header", "ünïcode"]
)
def test_missing_or_odd_request_id_is_replaced(log, incoming):
    request = FakeRequest(incoming)
    response = run_middleware(log, request)
    request_id = response["X-Request-ID"]
    assert request_id != incoming
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert request.request_id == request_id
    assert log.only_line()["request_id"] == request_id


def test_longest_sane_request_id_is_kept(log):
    incoming = "a" * 128
    assert run_middleware(log, FakeRequest(incoming))["X-Request-ID"] == incoming


def test_request_id_is_reset_when_the_view_raises():
    def view(request):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        RequestIdMiddleware(view)(FakeRequest("abc"))
    assert get_request_id() is None


def test_middleware_with_django_request_factory(log):
    from django.conf import settings

    if not settings.configured:
        pytest.skip("Django settings are not configured in this run")
    from django.http import HttpResponse
    from django.test import RequestFactory

    def view(request):
        log.logger.info("handling")
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-42")
    response = RequestIdMiddleware(view)(request)
    assert response["X-Request-ID"] == "req-42"
    assert log.only_line()["request_id"] == "req-42"


def test_use_request_id_binds_for_background_work(log):
    with use_request_id("job-7"):
        log.logger.info("in task")
    log.logger.info("after task")
    inside, after = log.lines()
    assert inside["request_id"] == "job-7"
    assert after["request_id"] is None


# --- settings dict ------------------------------------------------------------------------


@pytest.fixture
def restore_logging():
    names = ["", "django", "django.server", "celery"]
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate, logger.filters[:])
        for name in names
        for logger in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate, filters) in saved.items():
        logger = logging.getLogger(name)
        for handler in logger.handlers[:]:
            if handler not in handlers:
                logger.removeHandler(handler)
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.filters[:] = filters


def test_build_logging_config_writes_scrubbed_json_to_stderr(monkeypatch, restore_logging):
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    logging.config.dictConfig(build_logging_config(level="INFO"))

    with use_request_id("cfg-1"):
        logging.getLogger("paydesk.anything").info("card %s", "4242424242424242", extra={"cvc": 1})
        logging.getLogger("django.request").info("from django")
    logging.getLogger("paydesk.anything").debug("below the level")

    lines = [json.loads(line) for line in stderr.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["card [card ****4242]", "from django"]
    assert lines[0]["request_id"] == "cfg-1"
    assert lines[0]["cvc"] == "[redacted]"


def test_build_logging_config_plain_text(monkeypatch, restore_logging):
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    logging.config.dictConfig(build_logging_config(level="DEBUG", json=False))

    logging.getLogger("paydesk.anything").debug("key sk_live_abc123")
    output = stderr.getvalue()
    assert "DEBUG paydesk.anything [None] key sk_live_[redacted]" in output
    assert "abc123" not in output
