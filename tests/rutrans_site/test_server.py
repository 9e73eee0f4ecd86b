"""rutrans_site/server.py: Daphne's command line, assembled in one place."""

from __future__ import annotations

from daphne.cli import CommandLineInterface

from rutrans_site.server import APPLICATION, RutransCommandLine, RutransServer, daphne_arguments


def parsed(argv: list[str]):
    return CommandLineInterface().parser.parse_args(daphne_arguments(argv))


def test_the_websocket_limits_come_from_the_settings(settings):
    settings.WEBSOCKET_MAX_MESSAGE_BYTES = 2_000_000
    args = parsed(["-b", "0.0.0.0", "-p", "8000"])
    assert args.websocket_max_message_size == args.websocket_max_frame_size == 2_000_000
    assert (args.host, args.port, args.application) == ("0.0.0.0", 8000, APPLICATION)


def test_an_explicit_daphne_option_wins():
    args = parsed(["--websocket-max-message-size", "123456", "--ping-interval", "5"])
    assert args.websocket_max_message_size == 123_456 and args.ping_interval == 5


def test_the_server_refuses_oversized_messages_with_a_close_frame():
    assert RutransCommandLine.server_class is RutransServer
    server = RutransServer.__new__(RutransServer)  # no sockets: only the factory option

    class Factory:
        options: dict = {}

        def setProtocolOptions(self, **options):  # autobahn's name
            self.options = options

    server.ws_factory = Factory()
    server._refuse_oversized_messages_with_a_close_frame()
    assert server.ws_factory.options == {"failByDrop": False}
