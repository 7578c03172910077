"""Local stand-ins for servers we cannot reach here: Telegram's Bot API and Meta's Graph API.

They serve the same URL paths and answer with the same payloads, status codes and
error bodies as the real ones (as documented), so the gateway is tested over real HTTP.
"""
