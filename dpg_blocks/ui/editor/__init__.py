"""The editor window: its panes wired to one state, menus, gestures, shortcuts, the loop."""
