"""Validation records: one per block, plain data, ready for JSON and msgpack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK, ERROR, UPSTREAM, IDLE = "ok", "error", "upstream-error", "idle"
UNTRUSTED = "UntrustedCode"  # error_type of a block whose code was not run: the project is not trusted
_RANK = {ERROR: 3, UPSTREAM: 2, OK: 1, IDLE: 0}
PATH_SEP = " › "


@dataclass
class TensorInfo:
    port: str
    shape: list[int] | None = None
    dtype: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "shape": self.shape, "dtype": self.dtype}


@dataclass
class BlockRecord:
    """What validation found for one block (a SuperBlock's record rolls up its children)."""

    id: str
    name: str
    type: str
    path: list[str]
    status: str = IDLE
    error_type: str = ""
    message: str = ""
    traceback: str = ""
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)  # orders in which it ran
    failing_path: list[str] = field(default_factory=list)  # SuperBlocks: the inner block at fault
    code_line: int = 0  # an error in the block's own code: the line inside that code (1-based)
    gradcheck: str = ""  # a custom backward that passed torch.autograd.gradcheck: what was checked

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "path": self.path,
            "path_text": PATH_SEP.join(self.path),
            "status": self.status,
            "error_type": self.error_type,
            "message": self.message,
            "traceback": self.traceback,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "orders": self.orders,
            "failing_path": self.failing_path,
            "code_line": self.code_line,
            "gradcheck": self.gradcheck,
        }

    def worse_than(self, status: str) -> bool:
        return _RANK[self.status] > _RANK[status]


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: _RANK[s]) if statuses else IDLE
