"""Typed application state keys (no module globals)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from bot.access import SessionSigner
from bot.rasa_client import RasaClient
from bot.safety import SafetyNet
from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
MESSAGES = web.AppKey("messages", dict)
SAFETY = web.AppKey("safety", SafetyNet)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
RASA = web.AppKey("rasa", RasaClient)
REDIS = web.AppKey("redis", Redis)
DOMAIN_INTENTS = web.AppKey("domain_intents", set)
SESSIONS = web.AppKey("sessions", SessionSigner)
WEB_SLOTS = web.AppKey("web_slots", asyncio.Semaphore)
