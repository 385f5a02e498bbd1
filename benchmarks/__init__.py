"""Benchmarks that print figures: `make bench ARGS="<benchmark> ..."` (see the README)."""
