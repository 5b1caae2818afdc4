"""The guard in conftest really blocks non-loopback connections."""

import socket

import pytest


def test_non_loopback_connection_is_refused() -> None:
    """Connecting to a public address fails before any packet leaves."""
    with socket.socket() as sock, pytest.raises(RuntimeError, match="non-loopback"):
        sock.connect(("93.184.216.34", 80))
