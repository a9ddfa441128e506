"""Each invocation sees its own function's environment variables, as in Lambda (one environment per function).

The local stack runs every function in one process, where ``os.environ`` is shared: an invocation that read it while
another function's invocation had just set its own variables would see the other's (its settings, and whatever the
core caches per function). While the stack runs, ``os.environ`` is this mapping: on an invocation's thread it is that
function's environment (the process's variables, minus those only other functions define, plus its own); on any
other thread it is the process's environment, unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any


class _View:
    def __init__(self, own: dict[str, str], hidden: frozenset[str]) -> None:
        self.own = own
        self.hidden = hidden


class PerInvocationEnviron(MutableMapping[str, str]):
    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process
        self._local = threading.local()

    @contextmanager
    def of_function(self, environment: Mapping[str, str], others: frozenset[str]) -> Iterator[None]:
        """On this thread, ``environment`` is the function's own; ``others`` are the names other functions define."""
        previous = getattr(self._local, "view", None)
        self._local.view = _View(dict(environment), others - set(environment))
        try:
            yield
        finally:
            self._local.view = previous

    def _view(self) -> _View | None:
        view: _View | None = getattr(self._local, "view", None)
        return view

    def __getitem__(self, key: str) -> str:
        view = self._view()
        if view is not None:
            if key in view.own:
                return view.own[key]
            if key in view.hidden:
                raise KeyError(key)
        return self.process[key]

    def __setitem__(self, key: str, value: str) -> None:
        view = self._view()
        if view is None:
            self.process[key] = value
        else:  # a handler's own writes stay in its environment
            view.own[key] = value

    def __delitem__(self, key: str) -> None:
        view = self._view()
        if view is None:
            del self.process[key]
            return
        if key not in view.own and (key in view.hidden or key not in self.process):
            raise KeyError(key)
        view.own.pop(key, None)
        view.hidden = view.hidden | {key}

    def __iter__(self) -> Iterator[str]:
        view = self._view()
        if view is None:
            yield from self.process
            return
        yield from view.own
        yield from (k for k in self.process if k not in view.own and k not in view.hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)

    def __repr__(self) -> str:
        return f"PerInvocationEnviron({dict(self)!r})"

    def __getattr__(self, name: str) -> Any:  # os._Environ's helpers (encodekey, ...) for code that reaches for them
        return getattr(self.process, name)
