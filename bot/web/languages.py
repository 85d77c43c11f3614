"""The language of the citizen-facing pages (国际版): ?lang= (the chat puts it on the links it
gives an English account), else the browser's Accept-Language (a browser asking for neither
language gets English, the international version), else Chinese. The console stays
Chinese: only blueprints that call `per_request(bp)` change language."""
from __future__ import annotations

from flask import g, request

from bot.infra import texts


def chosen() -> str:
    asked = request.args.get("lang", "")
    if asked in texts.LANGUAGES:
        return asked
    accepted = request.accept_languages
    if not accepted:
        return texts.SOURCE_LANGUAGE
    return accepted.best_match(texts.LANGUAGES, default="en")


def per_request(bp) -> None:
    """The blueprint's requests run in the chosen language; its templates get `lang` and `html_lang`."""
    @bp.before_request
    def _set():
        g.language_token = texts.language.set(chosen())

    @bp.teardown_request
    def _reset(_exc=None):
        token = g.pop("language_token", None)
        if token is not None:
            try:
                texts.language.reset(token)
            except ValueError:  # set in another context (a test client quirk): nothing to undo here
                pass

    @bp.context_processor
    def _template_language():
        lang = texts.language.get()
        return {"lang": lang, "html_lang": "zh-CN" if lang == texts.SOURCE_LANGUAGE else lang}
