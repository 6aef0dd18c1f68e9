"""The autogen-core side of the benchmarks (imported lazily: autogen-core is optional).

autogen-core routes by the handler's type hints, resolved against this module's globals,
hence the module-level agent classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from autogen_core import MessageContext, RoutedAgent, message_handler


@dataclass
class Ping:
    """The one message type both agents handle."""

    body: str


class Sink(RoutedAgent):
    """Accepts published messages and does nothing."""

    def __init__(self) -> None:
        super().__init__("no-op sink")

    @message_handler
    async def on_ping(self, message: Ping, ctx: MessageContext) -> None:
        return None


class Echo(RoutedAgent):
    """Answers a direct ``send_message`` with the message itself."""

    def __init__(self) -> None:
        super().__init__("echo")

    @message_handler
    async def on_ping(self, message: Ping, ctx: MessageContext) -> Ping:
        return message
