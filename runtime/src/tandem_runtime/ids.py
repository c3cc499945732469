"""Random (version 4) UUIDs for new ids, drawn from the system's random source a block at a time."""

from __future__ import annotations

import os
import threading
from uuid import UUID

_BLOCK = 256  # ids per read of the random source


class _RandomIds:
    """``uuid.uuid4()`` reads 16 bytes from the operating system for each id, and that read lets go of the
    interpreter lock: on a busy event loop each new id could then wait for the lock behind another thread. Here
    the bytes are read a block at a time; a forked child starts on a block of its own."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._at = 0

    def next(self) -> UUID:
        with self._lock:
            if self._at >= len(self._block):
                self._block, self._at = os.urandom(16 * _BLOCK), 0
            raw = self._block[self._at : self._at + 16]
            self._at += 16
        return UUID(bytes=raw, version=4)


_ids = _RandomIds()
os.register_at_fork(after_in_child=_ids.reset)


def random_uuid() -> UUID:
    """A new random UUID (version 4), as ``uuid.uuid4()`` gives."""
    return _ids.next()
