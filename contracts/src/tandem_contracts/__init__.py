"""Tandem's published language: event models, envelope and JSON Schemas."""
