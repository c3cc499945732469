"""Shared machinery of the Tandem services."""
