"""One small Reflex state per feature."""
