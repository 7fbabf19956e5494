"""Executors: what happens when an approval of a given action is granted.

The app owning the action registers a callable in its ``AppConfig.ready`` (so ``staff`` never
imports a higher app). The executor receives the approval and must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable

_executors: dict[str, Callable] = {}


def register_executor(action: str, func: Callable) -> None:
    _executors[action] = func


def run_executor(approval) -> None:
    func = _executors.get(approval.action)
    if func is not None:
        func(approval)
