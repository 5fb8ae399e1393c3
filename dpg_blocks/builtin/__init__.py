"""The built-in block pack, declared exactly like a plugin.

``BLOCKS`` lists every block class; importing this package never imports torch (the blocks
import it inside ``build()``/``load()``).
"""

from __future__ import annotations

from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .constants import Fill
from .convolution import Conv1d, Conv2d, ConvTranspose2d
from .custom import Custom
from .inputs import Input
from .linear import Linear
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .normalization import BatchNorm1d, BatchNorm2d, Dropout, LayerNorm
from .outputs import Output
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .structure import OR, Add, Concat, Copy, Flatten, Multiply, Reshape, Split

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
    Dropout,
    ReLU,
    LeakyReLU,
    GELU,
    Sigmoid,
    Tanh,
    Softmax,
    MaxPool2d,
    AvgPool2d,
    AdaptiveAvgPool2d,
    Flatten,
    Reshape,
    Concat,
    Add,
    Multiply,
    Copy,
    OR,
    Split,
    Fill,
    Custom,
    CrossEntropyLoss,
    BCEWithLogitsLoss,
    MSELoss,
    L1Loss,
    NLLLoss,
    Output,
]

__all__ = ["BLOCKS", "PACK_NAME", *(cls.__name__ for cls in BLOCKS)]
