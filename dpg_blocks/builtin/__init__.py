"""The built-in block pack, declared exactly like a plugin.

``BLOCKS`` lists every block class; importing this package never imports torch (the blocks
import it inside ``build()``/``load()``).
"""

from __future__ import annotations

from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .attention import MultiheadAttention, ScaledDotProductAttention
from .constants import Fill
from .convolution import Conv1d, Conv2d, ConvTranspose2d
from .custom import Custom
from .inputs import Input
from .linear import Linear
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
)
from .opaque import OpaqueModule
from .outputs import Output
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .resampling import Pad, PixelShuffle, Upsample
from .sequence import GRU, LSTM, RNN, Embedding
from .structure import OR, Add, Concat, Copy, Flatten, Multiply, Reshape, Split, Subtract
from .tensor_ops import (
    Abs,
    Chunk,
    Identity,
    LearnedTensor,
    LogSoftmax,
    MatMul,
    Mean,
    Permute,
    PositionIds,
    Select,
    Slice,
    Sum,
    Transpose,
)

PACK_NAME = "builtin"

BLOCKS: list[type] = [
    Input,
    Linear,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    BatchNorm1d,
    BatchNorm2d,
    LayerNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    GroupNorm,
    Dropout,
    Embedding,
    RNN,
    GRU,
    LSTM,
    MultiheadAttention,
    ScaledDotProductAttention,
    Upsample,
    PixelShuffle,
    Pad,
    ReLU,
    LeakyReLU,
    GELU,
    Sigmoid,
    Tanh,
    Softmax,
    LogSoftmax,
    MaxPool2d,
    AvgPool2d,
    AdaptiveAvgPool2d,
    Flatten,
    Reshape,
    Concat,
    Add,
    Subtract,
    Multiply,
    Copy,
    OR,
    Split,
    Fill,
    Identity,
    Abs,
    Permute,
    Transpose,
    MatMul,
    Chunk,
    Mean,
    Sum,
    PositionIds,
    Select,
    Slice,
    LearnedTensor,
    Custom,
    OpaqueModule,
    CrossEntropyLoss,
    BCEWithLogitsLoss,
    MSELoss,
    L1Loss,
    NLLLoss,
    Output,
]

__all__ = ["BLOCKS", "PACK_NAME", *(cls.__name__ for cls in BLOCKS)]
