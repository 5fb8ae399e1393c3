"""The canvas: the node editor mirroring the open graph, its view, zoom, culling, gestures."""
