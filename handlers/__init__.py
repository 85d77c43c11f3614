"""Conversation flows, one module per flow, channel-neutral: no Flask, no XML, no platform client,
no database. Each module declares FLOW (bot.chat.conversation.flow.Flow)."""
from __future__ import annotations

import importlib

MODULES = ("declare", "my_code", "family", "appeal", "appeal_status", "limited_pass", "arrival_report", "faq",
           "reset_link", "revoke_family", "unbind_others", "paper_code")


def flows():
    return [importlib.import_module(f"handlers.{name}").FLOW for name in MODULES]
