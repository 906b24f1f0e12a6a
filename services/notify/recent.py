"""A value read again at most once a period: the plan list and the subscriptions, which the
notifier consults on every round but which change rarely."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]], initial: T, max_age_s: float = 1.0) -> None:
        self._read, self._value, self._max_age_s = read, initial, max_age_s
        self._until = 0.0

    async def get(self) -> T:
        """The value, read again if older than `max_age_s`. A failed read raises, and is not tried
        again before the period is over: the last value serves until then."""
        if time.monotonic() >= self._until:
            self._until = time.monotonic() + self._max_age_s
            self._value = await self._read()
        return self._value
