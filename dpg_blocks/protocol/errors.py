"""The one error type of the wire: whatever is wrong with a message, it is a ProtocolError."""

from __future__ import annotations


class ProtocolError(ValueError):
    """A message that cannot be encoded or decoded; the text names what is wrong and where.

    ``where`` is a path into the message (``TapFrame.heatmap.shape[1]``), empty when the
    problem is the message as a whole (its size, its bytes, its envelope).
    """

    def __init__(self, reason: str, where: str = "") -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)
