"""Arrays on the wire: a dtype name, a shape and the raw little-endian bytes (no pickle)."""

from __future__ import annotations

import math

import numpy as np

from .errors import ProtocolError
from .schema import Record, record

# numpy dtype names that may travel; anything else (objects, structured, complex) is refused.
WIRE_DTYPES = frozenset({
    "bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
    "float16", "float32", "float64",
})
MAX_NDIM = 32


@record
class WireArray(Record):
    """An n-d array as ``dtype`` (a numpy name from WIRE_DTYPES), ``shape`` and C-order bytes."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    def _validate(self) -> None:
        if self.dtype not in WIRE_DTYPES:
            raise ValueError(f"dtype {self.dtype!r} is not one of {', '.join(sorted(WIRE_DTYPES))}")
        if len(self.shape) > MAX_NDIM:
            raise ValueError(f"{len(self.shape)} dimensions, at most {MAX_NDIM} allowed")
        if any(d < 0 for d in self.shape):
            raise ValueError(f"negative dimension in shape {self.shape}")
        expected = math.prod(self.shape) * np.dtype(self.dtype).itemsize
        if len(self.data) != expected:
            raise ValueError(
                f"{len(self.data)} bytes of data, but shape {self.shape} of {self.dtype} needs {expected}"
            )

    @property
    def nbytes(self) -> int:
        """The size of the data in bytes."""
        return len(self.data)


def array_to_wire(array: np.ndarray) -> WireArray:
    """``array`` as a WireArray (copied to C order, little-endian); ProtocolError for a bad dtype."""
    array = np.asarray(array)
    name = array.dtype.name
    if name not in WIRE_DTYPES:
        raise ProtocolError(f"dtype {array.dtype} cannot travel; allowed: {', '.join(sorted(WIRE_DTYPES))}")
    little = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)
    return WireArray(name, tuple(int(d) for d in array.shape), little.tobytes(order="C"))


def wire_to_array(wire: WireArray) -> np.ndarray:
    """The numpy array a WireArray holds (read-only, sharing the message's bytes)."""
    dtype = np.dtype(wire.dtype).newbyteorder("<")
    array = np.frombuffer(wire.data, dtype=dtype).reshape(wire.shape)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))
