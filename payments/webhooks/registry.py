"""Webhook handlers, registered per normalised kind.

``payments`` registers its own handlers; a higher app registers the kinds it owns in its
``AppConfig.ready`` (``disputes`` fills ``dispute.*``, ``dunning`` can take
``subscription.charged_unsuccessfully``), so ``payments`` never imports a higher app.

A handler is ``handler(event: WebhookEvent, *, delivery) -> str | None``; the string is a note
kept on the delivery. It must be idempotent: a delivery can be processed again after a crash.
Raising ``Ignore`` marks the delivery IGNORED with the note; any other exception is retried.

``db_only`` (optional) says for which events the handler only reads and writes our database and
never calls a PSP: those deliveries are processed many to a transaction, each in a savepoint. A
handler registered without it is assumed to call the PSP and runs outside any transaction.
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[..., "str | None"]
DbOnly = Callable[..., bool]

_handlers: dict[str, list[Handler]] = {}
_db_only: dict[Handler, DbOnly] = {}


class Ignore(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a handler when the event concerns nothing of ours."""


def register(kind: str, handler: Handler, *, db_only: DbOnly | None = None) -> None:
    """Add ``handler`` for ``kind`` ("dispute.created", or "dispute.*" for a family)."""
    handlers = _handlers.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)
    if db_only is not None:
        _db_only[handler] = db_only


def handlers_for(kind: str) -> list[Handler]:
    family = kind.split(".", 1)[0] + ".*"
    return [*_handlers.get(kind, []), *_handlers.get(family, [])]


def db_only(handlers: list[Handler], event) -> bool:
    """True when every handler promised to touch only the database for this event."""
    for handler in handlers:
        predicate = _db_only.get(handler)
        if predicate is None or not predicate(event):
            return False
    return True


def unregister(kind: str, handler: Handler) -> None:
    if handler in _handlers.get(kind, []):
        _handlers[kind].remove(handler)
