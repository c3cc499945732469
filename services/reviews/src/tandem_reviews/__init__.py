"""Tandem reviews service."""
