"""A small thread-safe cache with a bound, for state kept across requests."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class BoundedCache:
    """Least recently used entries go first once ``size`` is reached. Every access holds a
    lock, so threads of one worker may share it; values are computed outside the lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            try:
                self._entries.move_to_end(key)
            except KeyError:
                return default
            return self._entries[key]

    def put(self, key: Hashable, value: Any, size: int | None = None) -> None:
        limit = self.size if size is None else size
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > max(limit, 0):
                self._entries.popitem(last=False)

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        found = self.get(key, _MISSING)
        if found is _MISSING:
            found = make()
            with self._lock:
                found = self._entries.setdefault(key, found)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return found

    def by_stat(self, path: str, read: Callable[[str], Any]) -> Any:
        """``read(path)``, kept while the file's ``stat`` (inode, modification time, size)
        stays the same: for a small file asked about at every request. OSError when the
        file is not there or cannot be read."""
        st = os.stat(path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = self.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        value = read(path)
        self.put(path, (stamp, value))
        return value

    def pop(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._entries.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_MISSING = object()
