"""Kawan Sehat custom actions, served by the rasa-sdk action server."""
