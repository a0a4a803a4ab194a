"""User preferences and the sessions that hold them."""
