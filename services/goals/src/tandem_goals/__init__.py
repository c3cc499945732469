"""Tandem goals service."""
