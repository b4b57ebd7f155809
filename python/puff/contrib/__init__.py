"""Integrations of Puff with other Python frameworks."""
