"""HTTP routes the backend serves next to Reflex's own."""
