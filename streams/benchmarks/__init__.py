"""Benchmarks run by `make bench`: measured in one process tree, one run, reported as ratios."""
