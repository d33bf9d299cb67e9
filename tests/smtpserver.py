"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd collecting every message it receives."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """(inbox, port) of a running server, stopped on exit."""
    inbox, port = Inbox(), free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    # aiosmtpd logs from its own thread (e.g. "connection lost" during stop); keep that out of
    # whatever root handler an earlier test left behind.
    mail_log = logging.getLogger("mail.log")
    old_propagate = mail_log.propagate
    mail_log.propagate = False
    ctl.start()
    try:
        yield inbox, port
    finally:
        ctl.stop()
        mail_log.propagate = old_propagate


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as running:
        yield running
