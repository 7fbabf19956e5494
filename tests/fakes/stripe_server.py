"""A local fake of the part of the Stripe API that ``payments.gateways.stripe`` uses.

Real HTTP, real form-encoded bodies, real ``Idempotency-Key`` semantics, response shapes taken from
Stripe's published fixtures (``tests/fakes/data/fixtures3.json``) with ids, amounts, statuses
and timestamps overwritten from the fake's state. See tests/fakes/README.md for the controls.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.request import Request, urlopen

from tests.fakes._http import FakeServer, RecordedRequest, Response
from tests.fakes.stripe_support import (
    TEST_CARDS,
    StripeApiError,
    TestCard,
    decode_form,
    missing,
    sign_payload,
    stripe_fee,
)

# Stripe's published object fixtures (MIT, see data/LICENSE), copied so a bare clone has them.
FIXTURES_PATH = Path(
    os.environ.get(
        "PAYDESK_STRIPE_FIXTURES",
        Path(__file__).resolve().parent / "data" / "fixtures3.json",
    )
)

DEFAULT_API_KEY = "sk_test_fake_paydesk"
DEFAULT_WEBHOOK_SECRET = "whsec_fake_paydesk"


class FakeStripe(FakeServer):
    def __init__(
        self, api_key: str = DEFAULT_API_KEY, webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self._fixtures = json.loads(FIXTURES_PATH.read_text())["resources"]
        self.reset_state()

    def reset_state(self) -> None:
        self.customers: dict[str, dict] = {}
        self.payment_methods: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.payouts: dict[str, dict] = {}
        self.balance_transactions: dict[str, dict] = {}
        self._idempotency: dict[str, tuple[str, Response]] = {}
        self._declines: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self.clock = int(time.time())

    # --- controls -----------------------------------------------------------------------------

    def decline_next(
        self, code: str = "card_declined", decline_code: str = "insufficient_funds"
    ) -> None:
        with self.lock:
            self._declines.append((code, decline_code))

    def create_dispute(
        self, payment_intent_id: str, amount: int | None = None, reason: str = "fraudulent"
    ) -> dict:
        with self.lock:
            pi = self._get(self.payment_intents, "payment_intent", payment_intent_id)
            charge = self.charges[pi["latest_charge"]]
            amount = charge["amount"] if amount is None else amount
            dispute = self._fixture("dispute", "dp")
            txn = self._balance_txn(
                -amount, 1500, pi["currency"], dispute["id"], "adjustment", "dispute"
            )
            dispute.update(
                amount=amount,
                currency=pi["currency"],
                charge=charge["id"],
                payment_intent=pi["id"],
                reason=reason,
                status="needs_response",
                balance_transactions=[txn],
                is_charge_refundable=False,
                evidence_details={
                    "due_by": self.clock + 7 * 86400,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
            )
            dispute["payment_method_details"] = None
            charge["disputed"] = True
            self.disputes[dispute["id"]] = dispute
            return copy.deepcopy(dispute)

    def refund_outside(self, payment_intent_id: str, amount: int | None = None) -> dict:
        """A refund made in the Stripe dashboard, not through the API client."""
        with self.lock:
            return copy.deepcopy(
                self._refund({"payment_intent": payment_intent_id, "amount": amount})
            )

    def create_payout(
        self, currency: str = "eur", *, arrival_date: int | None = None, status: str = "paid"
    ) -> dict:
        """Pay out every balance transaction in ``currency`` not yet in a payout."""
        with self.lock:
            pending = [
                t
                for t in self.balance_transactions.values()
                if t["currency"] == currency.lower() and t["_payout"] is None
            ]
            net = sum(t["net"] for t in pending)
            payout = self._fixture("payout", "po")
            txn = self._balance_txn(-net, 0, currency.lower(), payout["id"], "payout", "payout")
            payout.update(
                amount=net,
                currency=currency.lower(),
                arrival_date=arrival_date or self.clock + 2 * 86400,
                status=status,
                balance_transaction=txn,
                destination=None,
                trace_id=None,
            )
            for t in [*pending, self.balance_transactions[txn]]:
                t["_payout"] = payout["id"]
            self.payouts[payout["id"]] = payout
            return copy.deepcopy(payout)

    # --- webhooks -----------------------------------------------------------------------------

    def build_event(
        self,
        event_type: str,
        obj: dict,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        event_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A Stripe event as its webhook would deliver it: (body, headers) signed like Stripe."""
        with self.lock:
            event = self._fixture("event", "evt")
        event.update(
            type=event_type,
            data={"object": obj},
            created=timestamp or int(time.time()),
            api_version="2024-06-20",
            request={"id": None, "idempotency_key": None},
        )
        if event_id:
            event["id"] = event_id
        body = json.dumps(event).encode()
        return body, {
            "Stripe-Signature": sign_payload(body, secret or self.webhook_secret, timestamp)
        }

    def send_event(self, event_type: str, obj: dict, url: str, secret: str | None = None) -> int:
        body, headers = self.build_event(event_type, obj, secret=secret)
        request = Request(url, data=body, headers={**headers, "Content-Type": "application/json"})
        with urlopen(request, timeout=10) as response:  # noqa: S310 - local test URL
            return response.status

    # --- HTTP ---------------------------------------------------------------------------------

    def parse_params(self, method: str, query: str, body: bytes, headers: dict[str, str]) -> Any:
        raw = query if method in ("GET", "DELETE") else body.decode()
        return decode_form(parse_qsl(raw, keep_blank_values=True))

    def error_response(self, status: int) -> Response:
        body = {"error": {"type": "api_error", "message": "An unknown error occurred."}}
        return Response(status, json.dumps(body).encode())

    def handle(self, req: RecordedRequest) -> Response:
        if req.headers.get("Authorization") != f"Bearer {self.api_key}":
            err = StripeApiError(401, "invalid_request_error", "Invalid API Key provided")
            return Response(err.status, json.dumps(err.body).encode())
        key = req.headers.get("Idempotency-Key")
        fingerprint = json.dumps([req.method, req.path, req.params], sort_keys=True)
        if req.method == "POST" and key and key in self._idempotency:
            stored_fingerprint, stored = self._idempotency[key]
            if stored_fingerprint != fingerprint:
                err = StripeApiError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
                return Response(err.status, json.dumps(err.body).encode())
            return Response(stored.status, stored.body, headers={"Idempotent-Replayed": "true"})
        try:
            status, payload = 200, self._route(req.method, req.path, req.params or {})
        except StripeApiError as err:
            status, payload = err.status, err.body
        response = Response(status, json.dumps(payload).encode())
        if req.method == "POST" and key:
            self._idempotency[key] = (fingerprint, response)
        return response

    def _route(self, method: str, path: str, params: dict) -> Any:
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        match method, parts:
            case "POST", ["customers"]:
                return self._customer_create(params)
            case "POST", ["payment_methods", pm_id, "attach"]:
                return self._pm_attach(pm_id, params)
            case "POST", ["payment_intents"]:
                return self._pi_create(params)
            case "GET", ["payment_intents", "search"]:
                return self._pi_search(params)
            case "GET", ["payment_intents", pi_id]:
                pi = self._get(self.payment_intents, "payment_intent", pi_id)
                return self._render_pi(pi, params.get("expand"))
            case "POST", ["payment_intents", pi_id, "capture"]:
                return self._pi_capture(pi_id, params)
            case "POST", ["payment_intents", pi_id, "cancel"]:
                return self._pi_cancel(pi_id, params)
            case "POST", ["refunds"]:
                return self._public(self._refund(params))
            case "GET", ["refunds", refund_id]:
                return self._public(self._get(self.refunds, "refund", refund_id))
            case "GET", ["disputes", dispute_id]:
                return self._public(self._get(self.disputes, "dispute", dispute_id))
            case "GET", ["payouts"]:
                gte = int((params.get("created") or {}).get("gte") or 0)
                rows = [p for p in self.payouts.values() if p["created"] >= gte]
                return self._list(sorted(rows, key=lambda p: -p["created"]), "/v1/payouts")
            case "GET", ["balance_transactions"]:
                return self._balance_txn_list(params)
        raise StripeApiError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({method}: {path}).",
        )

    # --- resources ----------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):08d}"

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _fixture(self, name: str, prefix: str) -> dict:
        obj = copy.deepcopy(self._fixtures[name])
        obj.update(id=self._next_id(prefix), created=self._tick(), livemode=False, metadata={})
        return obj

    def _get(self, store: dict, kind: str, obj_id: str) -> dict:
        if obj_id not in store:
            raise missing(kind, obj_id)
        return store[obj_id]

    @staticmethod
    def _public(obj: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    def _list(self, rows: list[dict], url: str) -> dict:
        return {
            "object": "list",
            "data": [self._public(r) for r in rows],
            "has_more": False,
            "url": url,
        }

    def _customer_create(self, params: dict) -> dict:
        customer = self._fixture("customer", "cus")
        customer.update(
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata") or {},
            discount=None,
            currency=None,
        )
        self.customers[customer["id"]] = customer
        return self._public(customer)

    def _card_for(self, pm_id: str) -> TestCard:
        if pm_id in TEST_CARDS:
            return TEST_CARDS[pm_id]
        pm = self._get(self.payment_methods, "payment_method", pm_id)
        return pm["_card"]

    def _pm_attach(self, token: str, params: dict) -> dict:
        self._get(self.customers, "customer", params.get("customer") or "")
        if token not in TEST_CARDS:
            raise missing("payment_method", token)
        card = TEST_CARDS[token]
        pm = self._fixture("payment_method", "pm")
        pm["customer"] = params["customer"]
        pm["card"].update(
            brand=card.brand,
            display_brand=card.brand,
            last4=card.last4,
            exp_month=12,
            exp_year=2034,
            wallet=None,
        )
        pm["_card"] = card
        self.payment_methods[pm["id"]] = pm
        return self._public(pm)

    def _pi_create(self, params: dict) -> dict:
        amount = int(params.get("amount") or 0)
        if amount < 1:
            raise StripeApiError(
                400,
                "invalid_request_error",
                "This value must be greater than or equal to 1.",
                code="parameter_invalid_integer",
                param="amount",
            )
        customer = params.get("customer")
        if customer:
            self._get(self.customers, "customer", customer)
        pm_id = params.get("payment_method") or ""
        card = self._card_for(pm_id)
        pi = self._fixture("payment_intent", "pi")
        pi.update(
            amount=amount,
            amount_capturable=0,
            amount_received=0,
            currency=params["currency"].lower(),
            customer=customer,
            description=params.get("description"),
            metadata=params.get("metadata") or {},
            payment_method=pm_id,
            capture_method=params.get("capture_method") or "automatic",
            status="requires_confirmation",
            canceled_at=None,
            last_payment_error=None,
            next_action=None,
            processing=None,
            transfer_data=None,
            latest_charge=None,
            automatic_payment_methods=None,
            payment_method_configuration_details=None,
            managed_payments=None,
        )
        pi["client_secret"] = f"{pi['id']}_secret_fake"
        self.payment_intents[pi["id"]] = pi
        if params.get("confirm") == "true":
            self._confirm(pi, card, off_session=params.get("off_session") == "true")
        return self._render_pi(pi, params.get("expand"))

    def _confirm(self, pi: dict, card: TestCard, *, off_session: bool) -> None:
        decline = self._declines.pop(0) if self._declines else None
        if decline is None and card.behaviour == "decline":
            decline = ("card_declined", card.decline_code)
        if decline is not None:
            code, decline_code = decline
            charge = self._charge(pi, status="failed")
            charge.update(failure_code=code, failure_message="Your card was declined.")
            error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": "Your card was declined.",
                "charge": charge["id"],
            }
            pi.update(status="requires_payment_method", last_payment_error=error)
            raise StripeApiError(
                402,
                "card_error",
                "Your card was declined.",
                code=code,
                decline_code=decline_code,
                charge=charge["id"],
                payment_intent=self._render_pi(pi, None),
            )
        if card.behaviour == "authenticate":
            if off_session:
                error = {
                    "type": "card_error",
                    "code": "authentication_required",
                    "message": "Your card was declined. This transaction requires authentication.",
                }
                pi.update(status="requires_payment_method", last_payment_error=error)
                raise StripeApiError(
                    402,
                    "card_error",
                    error["message"],
                    code="authentication_required",
                    payment_intent=self._render_pi(pi, None),
                )
            pi.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
            return
        charge = self._charge(pi, status="succeeded")
        if pi["capture_method"] == "manual":
            charge.update(captured=False, amount_captured=0)
            pi.update(status="requires_capture", amount_capturable=pi["amount"])
        else:
            self._capture_charge(pi, charge, pi["amount"])

    def _charge(self, pi: dict, *, status: str) -> dict:
        charge = self._fixture("charge", "ch")
        charge.update(
            amount=pi["amount"],
            amount_captured=0,
            amount_refunded=0,
            captured=False,
            balance_transaction=None,
            currency=pi["currency"],
            customer=pi["customer"],
            payment_intent=pi["id"],
            payment_method=pi["payment_method"],
            status=status,
            paid=status == "succeeded",
            refunded=False,
            disputed=False,
            failure_code=None,
            failure_message=None,
            refunds=None,
            source=None,
            transfer_data=None,
            review=None,
            application=None,
            application_fee=None,
            on_behalf_of=None,
            source_transfer=None,
        )
        self.charges[charge["id"]] = charge
        pi["latest_charge"] = charge["id"]
        return charge

    def _capture_charge(self, pi: dict, charge: dict, amount: int) -> None:
        txn = self._balance_txn(
            amount, stripe_fee(amount), pi["currency"], charge["id"], "charge", "charge"
        )
        charge.update(captured=True, amount_captured=amount, balance_transaction=txn)
        pi.update(status="succeeded", amount_received=amount, amount_capturable=0)

    def _balance_txn(
        self, amount: int, fee: int, currency: str, source: str, txn_type: str, category: str
    ) -> str:
        txn = self._fixture("balance_transaction", "txn")
        txn.update(
            amount=amount,
            fee=fee,
            net=amount - fee,
            currency=currency,
            source=source,
            type=txn_type,
            reporting_category=category,
            status="available",
            description=None,
            available_on=txn["created"] + 2 * 86400,
            fee_details=[
                {
                    "amount": fee,
                    "currency": currency,
                    "type": "stripe_fee",
                    "description": "Stripe processing fees",
                    "application": None,
                }
            ]
            if fee
            else [],
        )
        txn["_payout"] = None
        self.balance_transactions[txn["id"]] = txn
        return txn["id"]

    def _render_pi(self, pi: dict, expand: Any) -> dict:
        out = self._public(pi)
        paths = " ".join(expand or [])
        if "latest_charge" in paths and pi["latest_charge"]:
            charge = self._public(self.charges[pi["latest_charge"]])
            if "balance_transaction" in paths and charge["balance_transaction"]:
                charge["balance_transaction"] = self._public(
                    self.balance_transactions[charge["balance_transaction"]]
                )
            out["latest_charge"] = charge
        return out

    def _pi_capture(self, pi_id: str, params: dict) -> dict:
        pi = self._get(self.payment_intents, "payment_intent", pi_id)
        if pi["status"] != "requires_capture":
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"This PaymentIntent could not be captured because it has a status of "
                f"{pi['status']}.",
                code="payment_intent_unexpected_state",
            )
        amount = int(params.get("amount_to_capture") or pi["amount"])
        if amount > pi["amount"]:
            raise StripeApiError(
                400,
                "invalid_request_error",
                "Amount to capture is too large.",
                code="amount_too_large",
                param="amount_to_capture",
            )
        self._capture_charge(pi, self.charges[pi["latest_charge"]], amount)
        return self._render_pi(pi, params.get("expand"))

    def _pi_cancel(self, pi_id: str, params: dict) -> dict:
        pi = self._get(self.payment_intents, "payment_intent", pi_id)
        if pi["status"] in ("succeeded", "canceled"):
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}.",
                code="payment_intent_unexpected_state",
            )
        pi.update(
            status="canceled",
            canceled_at=self._tick(),
            amount_capturable=0,
            cancellation_reason="requested_by_customer",
        )
        return self._render_pi(pi, params.get("expand"))

    def _pi_search(self, params: dict) -> dict:
        query = params.get("query") or ""
        m = re.fullmatch(r"\s*metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'\s*", query)
        if not m:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Unsupported query: {query}",
                code="parameter_invalid_string",
                param="query",
            )
        field, value = m.group(1), re.sub(r"\\(.)", r"\1", m.group(2))
        rows = [pi for pi in self.payment_intents.values() if pi["metadata"].get(field) == value]
        rows.sort(key=lambda pi: -pi["created"])
        expand = [e.removeprefix("data.") for e in params.get("expand") or []]
        return {
            "object": "search_result",
            "data": [self._render_pi(pi, expand) for pi in rows],
            "has_more": False,
            "next_page": None,
            "url": "/v1/payment_intents/search",
        }

    def _refund(self, params: dict) -> dict:
        pi_id = params.get("payment_intent") or ""
        pi = self._get(self.payment_intents, "payment_intent", pi_id)
        charge = self.charges.get(pi["latest_charge"] or "")
        if pi["status"] != "succeeded" or charge is None:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
            )
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        amount = int(params["amount"]) if params.get("amount") is not None else remaining
        if remaining <= 0:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > remaining or amount < 1:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                code="amount_too_large",
                param="amount",
            )
        refund = self._fixture("refund", "re")
        txn = self._balance_txn(-amount, 0, pi["currency"], refund["id"], "refund", "refund")
        refund.update(
            amount=amount,
            charge=charge["id"],
            payment_intent=pi_id,
            currency=pi["currency"],
            status="succeeded",
            balance_transaction=txn,
            metadata=params.get("metadata") or {},
            reason=params.get("reason"),
            destination_details=None,
        )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        self.refunds[refund["id"]] = refund
        return refund

    def _balance_txn_list(self, params: dict) -> dict:
        payout = params.get("payout")
        rows = [
            t
            for t in self.balance_transactions.values()
            if payout is None or t["_payout"] == payout
        ]
        data = self._list(rows, "/v1/balance_transactions")
        if "data.source" in (params.get("expand") or []):
            stores = (self.charges, self.refunds, self.disputes, self.payouts)
            for txn in data["data"]:
                for store in stores:
                    if txn["source"] in store:
                        txn["source"] = self._public(store[txn["source"]])
                        break
        return data
