"""Widgets of the dashboard other than the table panes: tree, map, command bar, output."""
