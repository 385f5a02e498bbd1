"""Stateless builders of the page's pieces."""
