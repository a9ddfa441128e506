"""Composition root: one ``Services`` per process (and per AWS endpoint, which the local stack moves around)."""

from __future__ import annotations

import os
from functools import lru_cache

from bankupdate.settings import Settings, get_settings
from bankupdate.usecases.services import Services


@lru_cache(maxsize=4)
def _build(settings: Settings, endpoint: str | None) -> Services:
    return Services(settings)


def services() -> Services:
    return _build(get_settings(), os.environ.get("AWS_ENDPOINT_URL"))


def reset() -> None:
    """Forget every cached adapter and setting (tests and the local stack start new environments)."""
    _build.cache_clear()
    get_settings.cache_clear()
