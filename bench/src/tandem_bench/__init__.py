"""Tandem benchmarks."""
