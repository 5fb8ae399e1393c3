"""Leaving and entering the tool: export to a script or ONNX, import of nn.Modules."""
