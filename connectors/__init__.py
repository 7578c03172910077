"""Rasa input channels of our own (loaded by the Rasa server from credentials.yml)."""
