"""Ports checked before a command starts anything: a taken one is named with its setting."""

from __future__ import annotations

import socket

import pytest

from lakehouse_platform.ports import Binding, taken_ports
from lakehouse_testing.plugin import free_port

pytestmark = pytest.mark.unit


def test_a_taken_port_is_named_with_the_setting_that_moves_it() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        free = free_port()
        problems = taken_ports(
            [
                Binding("collector", "127.0.0.1", free, "WEB_COLLECTOR__PORT"),
                Binding("API", "127.0.0.1", busy, "WEB_SERVING__PORT"),
            ]
        )
    assert len(problems) == 1
    assert f"API port 127.0.0.1:{busy} is not free" in problems[0]
    assert "WEB_SERVING__PORT" in problems[0]
