"""Benchmarks that print figures (`python -m visionary_app.bench --help`) and their helpers."""
