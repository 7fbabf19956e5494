"""Webhook handlers, registered per normalised kind.

``payments`` registers its own handlers; a higher app registers the kinds it owns in its
``AppConfig.ready`` (``disputes`` fills ``dispute.*``, ``dunning`` can take
``subscription.charged_unsuccessfully``), so ``payments`` never imports a higher app.

A handler is ``handler(event: WebhookEvent, *, delivery) -> str | None``; the string is a note
kept on the delivery. It must be idempotent: a delivery can be processed again after a crash.
Raising ``Ignore`` marks the delivery IGNORED with the note; any other exception is retried.
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[..., "str | None"]

_handlers: dict[str, list[Handler]] = {}


class Ignore(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a handler when the event concerns nothing of ours."""


def register(kind: str, handler: Handler) -> None:
    """Add ``handler`` for ``kind`` ("dispute.created", or "dispute.*" for a family)."""
    handlers = _handlers.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)


def handlers_for(kind: str) -> list[Handler]:
    family = kind.split(".", 1)[0] + ".*"
    return [*_handlers.get(kind, []), *_handlers.get(family, [])]


def unregister(kind: str, handler: Handler) -> None:
    if handler in _handlers.get(kind, []):
        _handlers[kind].remove(handler)
