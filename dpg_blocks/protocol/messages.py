"""Messages: records that travel alone, registered by type name; commands and events.

Every message class is a frozen, annotation-checked dataclass (see :mod:`.schema`) made with
:func:`message`, which also registers it under its class name, the ``"t"`` of the envelope.

Delivery: an engine under load may coalesce or drop *lossy* messages (only :class:`TapFrame`,
latest wins per :meth:`Message.coalesce_key`); every other message must be delivered, in order.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar, TypeVar

from .schema import Record, record


class Message(Record):
    """A record that crosses the process boundary on its own."""

    lossy: ClassVar[bool] = False  # may be coalesced (latest wins) or dropped under backpressure

    def coalesce_key(self) -> Hashable | None:
        """Messages with equal keys replace each other in a backlog; None: never coalesced."""
        return None


class Command(Message):
    """GUI -> engine."""


class Event(Message):
    """Engine -> GUI."""


MESSAGE_TYPES: dict[str, type[Message]] = {}

M = TypeVar("M", bound=type[Message])


def message(cls: M) -> M:
    """Make ``cls`` a checked record and register it under its class name."""
    if not issubclass(cls, Command | Event):
        raise TypeError(f"{cls.__name__} must derive from Command or Event")
    name = cls.__name__
    if name in MESSAGE_TYPES:
        raise TypeError(f"two message types are named {name!r}")
    cls = record(cls)
    MESSAGE_TYPES[name] = cls
    return cls


def is_lossy(msg: Message) -> bool:
    """Whether ``msg`` may be coalesced or dropped under backpressure (only tap frames)."""
    return type(msg).lossy
