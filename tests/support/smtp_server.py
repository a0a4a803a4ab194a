"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1), keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore

    @property
    def body(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.server.lock:
            self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                                 envelope.original_content or envelope.content))
        return "250 OK"


class SmtpServer:
    """``with SmtpServer() as smtp:`` … ``smtp.port``, ``smtp.wait_for(n)``; ``stop()`` and
    ``start()`` again on the same port (to play a mail server that is down for a while)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"expected {count} messages, got {len(self.received)}")

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)
