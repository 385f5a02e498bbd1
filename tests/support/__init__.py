"""Launchers and clients the tests (and the benchmarks) drive the app and Azurite with."""
