"""`flask --app wsgi keys rotate|list` and `flask --app wsgi verify TEXT|IMAGE.png`.

`verify` reads no database and no Redis: it checks a signed QR claim (bot.infra.signing) against
published keys only, a JWKS file or URL (by default PUBLIC_BASE_URL's
/.well-known/healthcode-keys.json), as any checkpoint would."""
from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from bot.infra.texts import say



@click.group("keys", cls=AppGroup, help="The keys that sign the offline-verifiable QR codes.")
def keys_group():
    pass


@keys_group.command("rotate", help="Make a new signing key; the old one stops signing and verifies until its codes expire.")
def keys_rotate():
    from bot.domain import audit
    from bot.domain.keys import rotate

    with current_app.extensions["services"].db.session() as s:
        new, old = rotate(s)
        audit.record(s, "keys.rotate", actor_kind="system", kid=new.kid, retired=[k.kid for k in old])
        click.echo(f"signing with {new.kid}; retired {', '.join(k.kid for k in old) or 'none'}")


@keys_group.command("list", help="The published keys (the JWKS document).")
def keys_list():
    from bot.domain.keys import jwks

    with current_app.extensions["services"].db.session() as s:
        click.echo(json.dumps(jwks(s), indent=2))


def _read_keys(source: str) -> dict:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=5) as resp:
            return json.loads(resp.read())
    return json.loads(Path(source).read_text(encoding="utf-8"))


def _text_of(arg: str) -> str:
    """The claim: given as text, or read from a picture of the QR (zxing-cpp)."""
    path = Path(arg)
    if not path.suffix.lower() in (".png", ".jpg", ".jpeg") or not path.exists():
        return arg
    try:
        import zxingcpp
        from PIL import Image
    except ImportError:
        raise click.ClickException("reading a picture needs zxing-cpp (pip install zxing-cpp)")
    found = zxingcpp.read_barcodes(Image.open(path))
    if not found:
        raise click.ClickException(f"no QR code found in {arg}")
    return found[0].text


@click.command("verify", help="Check a signed code (TEXT, or a PNG/JPEG of its QR) against the published keys, "
                              "without the database or Redis.")
@click.argument("code")
@click.option("--keys", "keys_source", default=None, help="JWKS file or URL (default: PUBLIC_BASE_URL/.well-known/healthcode-keys.json)")
def verify_command(code, keys_source):
    from bot.domain.keys import public_keys_of
    from bot.infra import signing, tokens

    source = keys_source or f"{current_app.extensions['services'].settings.public_base_url}/.well-known/healthcode-keys.json"
    try:
        keys = public_keys_of(_read_keys(source))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read the keys from {source}: {exc}")
    result = signing.verify(tokens.token_from_scan(_text_of(code)), keys, time.time())
    click.echo(f"{result.verdict} ({say('words.verdict', verdict=result.verdict)})")
    if result.claim is not None:
        c = result.claim
        click.echo(json.dumps({"public_id": c.public_id, "colour": c.colour, "version": c.version,
                               "name_masked": c.name_masked, "valid_from": c.valid_from,
                               "valid_until": c.valid_until, "kid": c.kid}, ensure_ascii=False))
    sys.exit(0 if result.verdict == "valid" else 1)
