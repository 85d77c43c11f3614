"""The staff console (/console): `bp` with its sign-in (base) and its pages, one module per kind
of staff work. Every page calls the domain (bot.domain), as the staff API does."""
from bot.web.console import admin, appeals, community, counter, hotline  # noqa: F401  (pages register on bp)
from bot.web.console.base import bp  # noqa: F401
