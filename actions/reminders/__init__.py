"""Subscriptions, children and cadres (what is stored, with consent) and the reminders planned from them."""
