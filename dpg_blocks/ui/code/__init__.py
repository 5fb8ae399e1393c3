"""The code window of a Custom block: its buffers, gutters and the text they hold."""
