"""dpg-blocks: visual programming for deep learning on Dear PyGui and PyTorch."""

__version__ = "0.1.0"
