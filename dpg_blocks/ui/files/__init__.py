"""Files in and out of the editor: project controls and prompts, data, import, export, drops."""
