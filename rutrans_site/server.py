"""The web server: Daphne serving rutrans, with the project's WebSocket limits. The one home of
its command line (scripts/run-local.sh, docker/, tests/stack.py and the docs all use it):

    python -m rutrans_site.server -b 127.0.0.1 -p 8000 [any other daphne option]

Two things differ from a bare `daphne rutrans_site.asgi:application`:

- Daphne's message and frame limits (`--websocket-max-message-size`/`--websocket-max-frame-size`,
  which autobahn applies to incoming *and* outgoing messages) come from the setting
  WEBSOCKET_MAX_MESSAGE_BYTES, kept above MAX_FRAME_BYTES: a binary frame over MAX_FRAME_BYTES
  but within the server limit reaches the consumer and gets the protocol's `frame dropped`
  error, the connection stays open.
- A message over the server limit is refused with a close frame, code 1009 ("message too big")
  and autobahn's reason, instead of Daphne's default of dropping the TCP connection (the
  client saw 1006 and no reason).
- SIGTERM drains the process before it stops (translation/messaging/drain.py): /healthz turns
  503, the open sockets are closed with 1012 "service restart" and a reason, then it exits.
- A consumer's close code and reason (ASGI `websocket.close`, e.g. the 1013 "try again later"
  of a refused session, with its reason) reach the client in the close frame; Daphne 4 drops
  the reason, and autobahn refuses the codes from 1001 to 2999 (the client saw Daphne's 1011).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from translation.messaging import drain

logger = logging.getLogger(__name__)

APPLICATION = "rutrans_site.asgi:application"


# Close codes a server may send (RFC 6455 section 7.4 and the IANA registry: 1013 "try again
# later", 1011 "internal error"...); autobahn's sendClose takes only 1000 and 3000-4999.
SERVER_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013})


class WebSocketWithCloseReasons(WebSocketProtocol):
    """Daphne's WebSocket protocol, sending the application's close code (any a server may
    send) and reason as they were given."""

    def handle_reply(self, message: dict[str, Any]) -> None:
        code = message.get("code") or 1000
        if (
            message.get("type") == "websocket.close"
            and self.state != self.STATE_CONNECTING
            and (code in SERVER_CLOSE_CODES or 3000 <= code <= 4999)
        ):
            reason = str(message.get("reason") or "").encode()[:123] or None
            self.sendCloseFrame(code=code, reasonUtf8=reason, isReply=False)
            return
        super().handle_reply(message)


class RutransServer(Server):
    """Daphne, with oversized WebSocket messages refused by a 1009 close, not a dropped socket,
    and the application's close reasons sent."""

    def run(self) -> None:
        from twisted.internet import reactor  # daphne.server installed the asyncio reactor

        # Daphne makes its WebSocket factory in run() and then starts the reactor; startup
        # callbacks run before the first connection is accepted, and each connection copies
        # its options from the factory.
        reactor.callWhenRunning(self._refuse_oversized_messages_with_a_close_frame)
        reactor.callWhenRunning(self._drain_on_sigterm)
        super().run()

    def _drain_on_sigterm(self) -> None:
        """Twisted's SIGTERM handler stops the reactor at once (every socket dropped, 1006):
        replaced by a drain (translation/messaging/drain.py), then the stop. A second SIGTERM
        stops at once."""
        reactor = _reactor()

        def on_sigterm(signum: int, frame: object) -> None:
            if drain.is_draining():
                reactor.callFromThread(reactor.stop)
                return
            drain.state.started_at = time.monotonic()  # /healthz answers 503 from now on
            reactor.callFromThread(self._start_drain)

        signal.signal(signal.SIGTERM, on_sigterm)

    def _start_drain(self) -> None:
        reactor = _reactor()

        async def drain_then_stop() -> None:
            try:
                closed = await drain.drain_all()
                logger.warning("drained: %d sockets closed with 1012; stopping", closed)
            finally:
                reactor.stop()

        asyncio.ensure_future(drain_then_stop())

    def _refuse_oversized_messages_with_a_close_frame(self) -> None:
        self.ws_factory.setProtocolOptions(failByDrop=False)
        self.ws_factory.protocol = WebSocketWithCloseReasons


def _reactor() -> Any:
    """Twisted's global reactor (the asyncio one daphne.server installed), untyped."""
    from twisted.internet import reactor

    return reactor


class RutransCommandLine(CommandLineInterface):
    description = "rutrans web server (Daphne: HTTP, WebSockets, admin, REST API)"
    server_class = RutransServer


def daphne_arguments(argv: list[str]) -> list[str]:
    """Daphne's arguments: the project's limits first (an explicit option given later wins),
    the caller's options, then the application."""
    from django.conf import settings

    limit = str(settings.WEBSOCKET_MAX_MESSAGE_BYTES)
    return [
        "--websocket-max-message-size",
        limit,
        "--websocket-max-frame-size",
        limit,
        *argv,
        APPLICATION,
    ]


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rutrans_site.settings")
    RutransCommandLine().run(daphne_arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
