"""Kawan Sehat gateway: web chat, chat API and (later) messaging channels, in front of Rasa."""
