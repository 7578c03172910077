"""Rasa graph components for Indonesian, and the pure-Python rules shared with the gateway."""
