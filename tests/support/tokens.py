"""Tokens for tests: one altered by a character."""
from __future__ import annotations


def altered(token: str) -> str:
    """The token with its last character changed (to one it is not: x, or y when it was x; a
    fixed "x" left a token ending in x unchanged, one run in 64)."""
    return token[:-1] + ("y" if token.endswith("x") else "x")
