"""The inspecting panes: Network tree, Blocks menu, Debug, Visualization, Plugins."""
