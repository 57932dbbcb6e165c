"""Ports a command will listen on, checked before it starts anything, so a taken port is
reported at once with the setting that moves it."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Binding:
    """A port a command will listen on, and the setting that moves it."""

    what: str
    host: str
    port: int
    setting: str


def taken_ports(bindings: Iterable[Binding]) -> list[str]:
    """One message per binding whose address is already in use."""
    problems = []
    for binding in bindings:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((binding.host, binding.port))
            except OSError as exc:
                problems.append(
                    f"{binding.what} port {binding.host}:{binding.port} is not free ({exc.strerror}): "
                    f"stop what listens there or set {binding.setting} to another port"
                )
    return problems
