"""Pieces of the fake Stripe that need no server: test cards, errors, form decoding, fees and
webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    # "succeed", "decline" or "authenticate"
    behaviour: str
    decline_code: str = ""


# Stripe's documented test payment methods, by id.
TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242", "succeed"),
    "pm_card_mastercard": TestCard("mastercard", "4444", "succeed"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", "decline", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "decline", "insufficient_funds"
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authenticate"),
}


class StripeApiError(Exception):
    def __init__(self, status: int, err_type: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": err_type, "message": message, **extra}}


def missing(kind: str, obj_id: str) -> StripeApiError:
    return StripeApiError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{obj_id}'",
        code="resource_missing",
        param="id",
    )


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe-style nested form keys (``metadata[k]``, ``expand[0]``) back into dicts/lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return listify(root)


def stripe_fee(amount: int) -> int:
    """1.4 % + 25 minor units, rounded half up."""
    return (amount * 14 + 500) // 1000 + 25


def sign_payload(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``body``."""
    t = timestamp or int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.{body.decode()}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
