"""Free ports on 127.0.0.1, for the servers that tests, benchmarks and the local deployment start."""

from __future__ import annotations

import socket
from contextlib import ExitStack


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now.

    The probes stay bound until all are chosen: one closed before the next was taken could be handed out
    twice, and two servers started together would then race for one port.
    """
    with ExitStack() as probes:
        sockets = [probes.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]


def free_port() -> int:
    """One TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]
