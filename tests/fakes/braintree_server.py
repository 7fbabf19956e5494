"""A local fake of the part of Braintree's XML gateway API that ``payments.gateways.braintree``
uses: customers, payment methods from test nonces, transaction sale/find/refund/void/submit for
settlement, transaction search, dispute find and settlement batch summaries.

Requests and responses are encoded with the SDK's own XML helpers, so the SDK parses exactly what
it would parse from Braintree. Declines follow the sandbox rule (amounts from 2000.00 to 2999.99
decline with that processor response code) or ``decline_next()``.
"""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import braintree as bt
from braintree.util.xml_util import XmlUtil

from tests.fakes._http import FakeServer, RecordedRequest, Response

DEFAULT_MERCHANT_ID = "paydesk_merchant"
DEFAULT_PUBLIC_KEY = "fake_public_key"
DEFAULT_PRIVATE_KEY = "fake_private_key"
# merchant account id -> currency; the first one is the default account.
DEFAULT_MERCHANT_ACCOUNTS = {"paydesk_eur": "EUR", "paydesk_usd": "USD"}

# Braintree's documented test nonces: (card type, last 4, declines on sale).
TEST_NONCES: dict[str, tuple[str, str, bool]] = {
    "fake-valid-nonce": ("Visa", "1881", False),
    "fake-valid-visa-nonce": ("Visa", "1881", False),
    "fake-valid-mastercard-nonce": ("MasterCard", "4444", False),
    "fake-processor-declined-visa-nonce": ("Visa", "0002", True),
}

PROCESSOR_RESPONSE_TEXT = {
    "1000": "Approved",
    "2000": "Do Not Honor",
    "2001": "Insufficient Funds",
    "2004": "Expired Card",
    "2046": "Declined",
}


class BraintreeApiError(Exception):
    def __init__(self, status: int, payload: dict | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


def validation_error(code: str, attribute: str, message: str, obj: str = "transaction"):
    return BraintreeApiError(
        422,
        {
            "api_error_response": {
                "errors": {
                    "errors": [],
                    obj: {"errors": [{"code": code, "attribute": attribute, "message": message}]},
                },
                "message": message,
            }
        },
    )


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_none(v) for k, v in value.items() if v is not None and not k.startswith("_")
        }
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


class FakeBraintree(FakeServer):
    def __init__(
        self,
        merchant_id: str = DEFAULT_MERCHANT_ID,
        public_key: str = DEFAULT_PUBLIC_KEY,
        private_key: str = DEFAULT_PRIVATE_KEY,
        merchant_accounts: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.merchant_id = merchant_id
        self.public_key = public_key
        self.private_key = private_key
        self.merchant_accounts = dict(merchant_accounts or DEFAULT_MERCHANT_ACCOUNTS)
        self.reset_state()

    def reset_state(self) -> None:
        self.customers: dict[str, dict] = {}
        self.payment_methods: dict[str, dict] = {}
        self.transactions: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self._declines: list[str] = []
        self._ids = itertools.count(1)
        self.now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    # --- controls -----------------------------------------------------------------------------

    def decline_next(self, code: str = "2001") -> None:
        with self.lock:
            self._declines.append(code)

    def settle(self, txn_id: str, *, at: datetime | None = None) -> dict:
        """Braintree's nightly batch: submitted_for_settlement -> settled."""
        with self.lock:
            txn = self.transactions[txn_id]
            if txn["status"] not in ("submitted_for_settlement", "settling"):
                raise ValueError(f"{txn_id} is {txn['status']}, not submitted for settlement")
            settled_at = at.astimezone(UTC).replace(tzinfo=None) if at else self._tick()
            self._set_status(txn, "settled", settled_at)
            txn["_settled_at"] = settled_at
            return _strip_none(txn)

    def create_dispute(
        self, txn_id: str, amount: Decimal | str | None = None, reason: str = "fraud"
    ) -> dict:
        with self.lock:
            txn = self.transactions[txn_id]
            amount = Decimal(str(amount)) if amount is not None else Decimal(txn["amount"])
            dispute = {
                "id": self._next_id("dp"),
                "amount": str(amount),
                "amount_disputed": str(amount),
                "amount_won": "0.00",
                "currency_iso_code": txn["currency_iso_code"],
                "kind": "chargeback",
                "status": "open",
                "reason": reason,
                "received_date": self.now,
                "reply_by_date": self.now + timedelta(days=7),
                "created_at": self._tick(),
                "transaction": {"id": txn_id, "amount": txn["amount"]},
            }
            self.disputes[dispute["id"]] = dispute
            return dict(dispute)

    # --- webhooks -----------------------------------------------------------------------------

    def _sdk(self) -> bt.BraintreeGateway:
        env = bt.Environment("fake", self.host, str(self.port), self.base_url, False, None)
        return bt.BraintreeGateway(
            bt.Configuration(
                environment=env,
                merchant_id=self.merchant_id,
                public_key=self.public_key,
                private_key=self.private_key,
            )
        )

    def sample_notification(self, kind: str, subject_id: str) -> dict[str, str]:
        """Signed {"bt_signature", "bt_payload"} built by the SDK's own webhook testing."""
        signed = self._sdk().webhook_testing.sample_notification(kind, subject_id)
        payload = signed["bt_payload"]
        return {
            "bt_signature": signed["bt_signature"],
            "bt_payload": payload.decode() if isinstance(payload, bytes) else payload,
        }

    def build_webhook(self, kind: str, subject_id: str) -> tuple[bytes, dict[str, str]]:
        """The webhook POST Braintree would send: (form-encoded body, headers)."""
        body = urlencode(self.sample_notification(kind, subject_id)).encode()
        return body, {"Content-Type": "application/x-www-form-urlencoded"}

    # --- HTTP ---------------------------------------------------------------------------------

    def parse_params(self, method: str, query: str, body: bytes, headers: dict[str, str]) -> Any:
        return XmlUtil.dict_from_xml(body) if body.strip() else {}

    def error_response(self, status: int) -> Response:
        return Response(status, b"", "application/xml")

    def handle(self, req: RecordedRequest) -> Response:
        expected = base64.b64encode(f"{self.public_key}:{self.private_key}".encode()).decode()
        prefix = f"/merchants/{self.merchant_id}/"
        if req.headers.get("Authorization") != f"Basic {expected}" or not req.path.startswith(
            prefix
        ):
            return Response(401, b"", "application/xml")
        parts = req.path[len(prefix) :].strip("/").split("/")
        try:
            status, payload = self._route(req.method, parts, req.params or {})
        except BraintreeApiError as err:
            status, payload = err.status, err.payload
        body = XmlUtil.xml_from_dict(_strip_none(payload)).encode() if payload else b""
        if body:
            body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
        return Response(status, body, "application/xml; charset=utf-8")

    def _route(self, method: str, parts: list[str], params: dict) -> tuple[int, dict | None]:
        match method, parts:
            case "POST", ["customers"]:
                return 201, {"customer": self._customer_create(params.get("customer") or {})}
            case "POST", ["payment_methods"]:
                return 201, {"credit_card": self._pm_create(params.get("payment_method") or {})}
            case "POST", ["transactions"]:
                return self._sale(params.get("transaction") or {})
            case "POST", ["transactions", "advanced_search_ids"]:
                ids = [t["id"] for t in self._search(params.get("search") or {})]
                return 200, {"search_results": {"page_size": 50, "ids": ids}}
            case "POST", ["transactions", "advanced_search"]:
                found = self._search(params.get("search") or {})
                return 200, {"credit_card_transactions": {"transaction": found}}
            case "GET", ["transactions", txn_id]:
                return 200, {"transaction": self._txn(txn_id)}
            case "POST", ["transactions", txn_id, "refund"]:
                return self._refund(self._txn(txn_id), params.get("transaction") or {})
            case "PUT", ["transactions", txn_id, "void"]:
                return self._void(self._txn(txn_id))
            case "PUT", ["transactions", txn_id, "submit_for_settlement"]:
                return self._submit(self._txn(txn_id), params.get("transaction") or {})
            case "GET", ["disputes", dispute_id]:
                if dispute_id not in self.disputes:
                    raise BraintreeApiError(404)
                return 200, {"dispute": self.disputes[dispute_id]}
            case "POST", ["settlement_batch_summary"]:
                criteria = params.get("settlement_batch_summary") or {}
                return 200, {"settlement_batch_summary": self._batch(criteria)}
        raise BraintreeApiError(404)

    # --- resources ----------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def _tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def _txn(self, txn_id: str) -> dict:
        if txn_id not in self.transactions:
            raise BraintreeApiError(404)
        return self.transactions[txn_id]

    def _customer_create(self, params: dict) -> dict:
        customer = {
            "id": self._next_id("cus"),
            "email": params.get("email"),
            "company": params.get("company"),
            "created_at": self._tick(),
            "updated_at": self.now,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _pm_create(self, params: dict) -> dict:
        if params.get("customer_id") not in self.customers:
            raise validation_error(
                "91510", "customer_id", "Customer ID is invalid.", obj="payment_method"
            )
        nonce = params.get("payment_method_nonce")
        if nonce not in TEST_NONCES:
            raise validation_error(
                "91565",
                "payment_method_nonce",
                "Unknown payment_method_nonce.",
                obj="payment_method",
            )
        card_type, last4, declines = TEST_NONCES[nonce]
        card = {
            "token": self._next_id("tok"),
            "customer_id": params["customer_id"],
            "card_type": card_type,
            "last_4": last4,
            "bin": "411111",
            "expiration_month": "12",
            "expiration_year": "2034",
            "default": True,
            "created_at": self._tick(),
            "_declines": declines,
        }
        self.payment_methods[card["token"]] = card
        return card

    def _new_txn(
        self,
        txn_type: str,
        amount: Decimal,
        currency: str,
        account: str,
        order_id: str | None,
        status: str,
    ) -> dict:
        now = self._tick()
        txn = {
            "id": self._next_id("txn"),
            "type": txn_type,
            "amount": str(amount),
            "currency_iso_code": currency,
            "merchant_account_id": account,
            "order_id": order_id,
            "status": status,
            "created_at": now,
            "updated_at": now,
            "refund_ids": [],
            "status_history": [],
        }
        self._set_status(txn, status, now)
        self.transactions[txn["id"]] = txn
        return txn

    def _set_status(self, txn: dict, status: str, at: datetime) -> None:
        txn["status"] = status
        txn["updated_at"] = at
        txn["status_history"].append({"status": status, "timestamp": at, "amount": txn["amount"]})

    def _sale(self, params: dict) -> tuple[int, dict]:
        try:
            amount = Decimal(str(params.get("amount")))
        except Exception:
            raise validation_error("81503", "amount", "Amount is an invalid format.") from None
        if amount <= 0:
            raise validation_error("81531", "amount", "Amount must be greater than zero.")
        account = params.get("merchant_account_id") or next(iter(self.merchant_accounts))
        if account not in self.merchant_accounts:
            raise validation_error(
                "91513", "merchant_account_id", "Merchant account ID is invalid."
            )
        currency = self.merchant_accounts[account]
        if amount != amount.quantize(Decimal("0.01")):
            raise validation_error("81503", "amount", "Amount is an invalid format.")
        order_id = params.get("order_id")
        if order_id and len(order_id) > 255:
            raise validation_error("91501", "order_id", "Order ID is too long.")
        card = self.payment_methods.get(params.get("payment_method_token") or "")
        if card is None:
            raise validation_error(
                "91518",
                "payment_method_token",
                "Payment instrument type is not accepted by this merchant account.",
            )
        customer_id = params.get("customer_id")
        if customer_id and customer_id not in self.customers:
            raise validation_error("91510", "customer_id", "Customer ID is invalid.")
        code = self._declines.pop(0) if self._declines else None
        if code is None and card["_declines"]:
            code = "2000"
        if code is None and Decimal(2000) <= amount < Decimal(3000):
            code = str(int(amount))
        submit = (params.get("options") or {}).get("submit_for_settlement") is True
        status = (
            "processor_declined"
            if code
            else ("submitted_for_settlement" if submit else "authorized")
        )
        txn = self._new_txn("sale", amount, currency, account, order_id, status)
        code = code or "1000"
        txn.update(
            customer={"id": customer_id} if customer_id else None,
            credit_card={
                k: v
                for k, v in card.items()
                if k
                in (
                    "token",
                    "card_type",
                    "last_4",
                    "bin",
                    "expiration_month",
                    "expiration_year",
                    "customer_id",
                )
            },
            payment_instrument_type="credit_card",
            processor_response_code=code,
            processor_response_text=PROCESSOR_RESPONSE_TEXT.get(code, "Declined"),
            processor_response_type="approved" if code == "1000" else "soft_declined",
            transaction_source=params.get("transaction_source"),
        )
        if status == "processor_declined":
            return 422, {
                "api_error_response": {
                    "errors": {"errors": []},
                    "message": txn["processor_response_text"],
                    "transaction": txn,
                }
            }
        return 201, {"transaction": txn}

    def _refund(self, txn: dict, params: dict) -> tuple[int, dict]:
        if txn["type"] != "sale":
            raise validation_error("91505", "base", "Cannot refund credit")
        if txn["status"] not in ("settled", "settling"):
            raise validation_error(
                "91506", "base", "Cannot refund a transaction unless it is settled."
            )
        refunded = sum(
            Decimal(self.transactions[r]["amount"])
            for r in txn["refund_ids"]
            if self.transactions[r]["status"] != "voided"
        )
        remaining = Decimal(txn["amount"]) - refunded
        if remaining <= 0:
            raise validation_error("91512", "base", "Transaction has already been fully refunded.")
        amount = Decimal(str(params["amount"])) if params.get("amount") else remaining
        if amount > remaining:
            raise validation_error("91521", "amount", "Refund amount is too large.")
        credit = self._new_txn(
            "credit",
            amount,
            txn["currency_iso_code"],
            txn["merchant_account_id"],
            params.get("order_id"),
            "submitted_for_settlement",
        )
        credit.update(
            refunded_transaction_id=txn["id"],
            credit_card=txn.get("credit_card"),
            customer=txn.get("customer"),
            processor_response_code="1002",
            processor_response_text="Processed",
        )
        txn["refund_ids"].append(credit["id"])
        return 201, {"transaction": credit}

    def _void(self, txn: dict) -> tuple[int, dict]:
        if txn["status"] not in ("authorized", "submitted_for_settlement"):
            raise validation_error(
                "91504",
                "base",
                "Transaction can only be voided if status is "
                "authorized, submitted_for_settlement, or - for PayPal - "
                "settlement_pending.",
            )
        self._set_status(txn, "voided", self._tick())
        return 200, {"transaction": txn}

    def _submit(self, txn: dict, params: dict) -> tuple[int, dict]:
        if txn["status"] != "authorized":
            raise validation_error(
                "91507", "base", "Cannot submit for settlement unless status is authorized."
            )
        if params.get("amount"):
            amount = Decimal(str(params["amount"]))
            if amount > Decimal(txn["amount"]):
                raise validation_error(
                    "91522",
                    "amount",
                    "Settlement amount cannot be more than the authorized amount.",
                )
            txn["amount"] = str(amount)
        self._set_status(txn, "submitted_for_settlement", self._tick())
        return 200, {"transaction": txn}

    def _search(self, criteria: dict) -> list[dict]:
        def matches(txn: dict) -> bool:
            for name, cond in criteria.items():
                if name == "order_id":
                    if txn.get("order_id") != cond.get("is"):
                        return False
                elif name in ("type", "status", "ids"):
                    field = "id" if name == "ids" else name
                    if txn.get(field) not in cond:
                        return False
                elif name == "settled_at":
                    at = txn.get("_settled_at")
                    if (
                        at is None
                        or ("min" in cond and at < cond["min"])
                        or ("max" in cond and at > cond["max"])
                    ):
                        return False
                else:
                    raise BraintreeApiError(422, None)
            return True

        return [t for t in self.transactions.values() if matches(t)]

    def _batch(self, criteria: dict) -> dict:
        try:
            day = datetime.strptime(str(criteria.get("settlement_date")), "%Y-%m-%d").date()
        except ValueError:
            raise validation_error(
                "82302",
                "settlement_date",
                "Settlement Date is invalid",
                obj="settlement_batch_summary",
            ) from None
        groups: dict[tuple[str, str, str], list[dict]] = {}
        for txn in self.transactions.values():
            at = txn.get("_settled_at")
            if at is not None and at.date() == day:
                key = (txn["merchant_account_id"], txn["type"], txn["credit_card"]["card_type"])
                groups.setdefault(key, []).append(txn)
        records = [
            {
                "merchant_account_id": account,
                "kind": kind,
                "card_type": card_type,
                "count": str(len(txns)),
                "amount_settled": str(sum(Decimal(t["amount"]) for t in txns)),
            }
            for (account, kind, card_type), txns in sorted(groups.items())
        ]
        return {"records": records}
