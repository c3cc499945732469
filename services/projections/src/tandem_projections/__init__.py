"""Tandem projections service."""
