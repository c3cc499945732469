"""Tandem check-ins service."""
