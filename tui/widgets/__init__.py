"""Dashboard widgets: each renders one pane and posts its own dataclass messages."""
