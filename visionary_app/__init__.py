"""VisionaryAI: an AI image studio built with Reflex."""
