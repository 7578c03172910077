"""Subscriptions, children and cadres (stored with consent), and the reminders planned
from them."""
