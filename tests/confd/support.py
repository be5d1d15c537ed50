"""Helpers of the confd tests: a typed pytest-twisted decorator and the shared key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import pytest_twisted

KEY = b"0123456789abcdef0123456789abcdef01234567\n"

F = TypeVar("F", bound=Callable[..., Any])


def inline_callbacks(test: F) -> F:
    """pytest-twisted's ``inlineCallbacks``, which has no type hints, for mypy --strict."""
    return cast(F, pytest_twisted.inlineCallbacks(test))
