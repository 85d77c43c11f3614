"""The engine: one inbound message + the saved conversation -> the new conversation + replies.

Pure apart from `run(action, payload)`, the callback that does the I/O a step asks for (bot.chat.service
binds it to the database). The saved conversation is a plain dict:

    {"flow": "declare", "state": "phone", "data": {...answers}, "trail": ["name", ...],
     "errors": 0, "at": 1763776800.0}

`trail` is the way back (the "back" global word); `errors` counts wrong answers in a row; `at` is the last
message's time, for the time-out.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from marshmallow import fields as mfields

from bot.chat.conversation.flow import Act, Ctx, End, Flow, Invalid
from bot.chat.conversation.messages import Inbound
from bot.chat.conversation.text import fold, normalise
from bot.infra.db import SHANGHAI

MAX_WRONG = 5          # wrong answers in a row that end a flow (product.md)
MAX_TEXT = 1000        # longer texts are refused before any field sees them
GLOBAL = ("menu", "cancel", "back", "code", "english", "chinese")
LANGUAGE_OF = {"english": "en", "chinese": "zh"}

Runner = Callable[[str, dict], dict]


class Engine:
    def __init__(self, flows: list[Flow], words: dict, options: Callable[[], dict], timeout: int, say):
        self.flows = {f.name: f for f in flows}
        self.options = options
        self.timeout = timeout
        self.say = say
        self.global_words = {fold(w): kind for kind in GLOBAL for w in words["global"][kind]}
        self.flow_words = {fold(w): name for name, ws in words["flows"].items() for w in ws if name in self.flows}

    # -- entry point ----------------------------------------------------------------------------

    def process(self, conv: dict | None, msg: Inbound, run: Runner, now: dt.datetime) -> tuple[dict | None, list[str]]:
        now = now.astimezone(SHANGHAI)
        out: list[str] = []
        if msg.kind == "event":
            return self._event(conv, msg, run, now)
        if conv is not None and now.timestamp() - conv.get("at", 0) > self.timeout:
            return None, [self.say("common.timed_out"), self._menu(run)]
        text = normalise(msg.text) if msg.kind == "text" else ""
        word = self.global_words.get(fold(text)) if msg.kind == "text" else None
        if word in LANGUAGE_OF:  # 国际版 / 中文: at any point, keeping what was entered
            return self._switch_language(conv, msg, LANGUAGE_OF[word], run, now)
        if conv is not None and conv.get("leaving"):  # "菜单" or "健康码" asked to leave a half-filled flow
            return self._leaving(conv, msg, text, word, run, now)
        if word in ("menu", "code") and conv is not None and conv.get("trail"):
            conv["leaving"], conv["at"] = word, now.timestamp()  # something was entered: ask first
            return conv, [self.say("common.leave_confirm")]
        if word == "menu":
            return None, [self._menu(run)]
        if word == "cancel":
            return None, ([self.say("common.cancelled")] if conv else []) + [self._menu(run)]
        if word == "code":
            return self._show_code(msg, run, now)
        if conv is not None:
            if word == "back":
                return self._back(conv, now, run)
            conv, out = self._answer(conv, msg, text, run, now)
        elif msg.kind == "text":
            conv, out = self._top_level(text, msg, run, now)
        else:
            out = [self.say("common.text_please", kind=msg.kind), self._menu(run)]
        if conv is not None:
            conv["at"] = now.timestamp()
        return conv, out

    def _leaving(self, conv: dict, msg: Inbound, text: str, word: str | None, run: Runner, now: dt.datetime):
        """1 leaves (to what the word asked for), 2 goes back to the question; anything else asks again."""
        answer = fold(text).strip(".、")
        if answer == "1" or word == "cancel":
            if conv["leaving"] == "code" and word != "cancel":
                return self._show_code(msg, run, now)
            return None, [self._menu(run)]
        conv["at"] = now.timestamp()
        if answer == "2" or word == "back":
            conv.pop("leaving")
            return self._ask_again(conv, msg, run, now)
        return conv, [self.say("common.leave_confirm")]

    def _ask_again(self, conv: dict, msg: Inbound | None, run: Runner, now: dt.datetime):
        """The question the conversation waits on, again (the menu if its flow or state is gone)."""
        if conv.get("leaving"):
            return conv, [self.say("common.leave_confirm")]
        flow = self.flows.get(conv.get("flow"))
        if flow is None or conv.get("state") not in flow.states:
            return None, [self._menu(run)]
        return conv, [self._prompt(flow, conv["state"], self._ctx(conv["data"], now, msg))]

    def _switch_language(self, conv: dict | None, msg: Inbound, language: str, run: Runner, now: dt.datetime):
        """The `language` action stores the choice with the account; the service then says
        everything after it, this answer included, in that language. The flow stays where it was."""
        run("language", {"language": language})
        said = [self.say("common.language_set")]
        if conv is None:
            return None, said + [self._menu(run)]
        conv["at"] = now.timestamp()
        conv, again = self._ask_again(conv, msg, run, now)
        return conv, said + again

    def _show_code(self, msg: Inbound, run: Runner, now: dt.datetime):
        """健康码: the code itself (the my_code flow), or the menu with it where there is no such flow."""
        flow = self._enabled("my_code")
        if flow is None:
            return None, [self._menu(run, with_code=True)]
        return self._start(flow, msg, run, now)

    # -- top level ------------------------------------------------------------------------------

    def _top_level(self, text: str, msg: Inbound, run: Runner, now: dt.datetime):
        key = fold(text).rstrip(".、")
        flow = None
        if key.isdigit():
            flow = next((f for f in self._menu_flows() if f.menu == int(key)), None)
        elif key in self.flow_words:
            flow = self._enabled(self.flow_words[key])
        if flow is not None:
            return self._start(flow, msg, run, now)
        for f in self._menu_flows():
            ctx = self._ctx({}, now, msg)
            outcome = f.match(ctx, text) if f.match else None
            if outcome is not None:  # the flow goes on with what its match noted
                return self._follow(f, {"flow": f.name, "state": None, "data": ctx.data, "trail": [], "errors": 0},
                                    ctx, outcome, run)
        return None, [self._menu(run)]

    def _start(self, flow: Flow, msg: Inbound | None, run: Runner, now: dt.datetime):
        conv = {"flow": flow.name, "state": None, "data": {}, "trail": [], "errors": 0}
        ctx = self._ctx(conv["data"], now, msg)
        return self._follow(flow, conv, ctx, flow.entry(ctx), run)

    # -- inside a flow --------------------------------------------------------------------------

    def _answer(self, conv: dict, msg: Inbound, text: str, run: Runner, now: dt.datetime):
        flow = self.flows.get(conv.get("flow"))
        ask = flow.states.get(conv.get("state")) if flow else None
        if ask is None:  # a flow or state that no longer exists (a deploy changed it): start over
            return None, [self.say("common.timed_out"), self._menu(run)]
        ctx = self._ctx(conv["data"], now, msg)
        if msg.kind not in ask.accepts:
            return self._wrong(flow, conv, ctx, "not_text", {"kind": msg.kind}, run)
        if msg.kind == "text":
            if len(text) > MAX_TEXT:
                return self._wrong(flow, conv, ctx, "too_long", {"max": MAX_TEXT}, run)
            field = ask.field if isinstance(ask.field, mfields.Field) else ask.field(ctx)
            try:
                value = field.deserialize(text)
            except Invalid as bad:
                return self._wrong(flow, conv, ctx, bad.key, bad.values, run)
        else:
            value = msg
        try:
            return self._follow(flow, dict(conv, errors=0), ctx, ask.step(ctx, value), run)
        except Invalid as bad:  # a step found the answer wrong after all (e.g. an SMS code)
            return self._wrong(flow, conv, self._ctx(conv["data"], now, msg), bad.key, bad.values, run)

    def _follow(self, flow: Flow, conv: dict, ctx: Ctx, outcome, run: Runner):
        while isinstance(outcome, Act):
            outcome = outcome.then(ctx, run(outcome.action, outcome.payload))
        said = [self.say(key, **values) for key, values in ctx.said]
        if isinstance(outcome, End):
            return None, said + [self.say(key, **values) for key, values in outcome.messages]
        if outcome not in flow.states:
            raise KeyError(f"flow {flow.name}: a step went to unknown state {outcome!r}")
        current = conv.get("state")
        if ctx.settled:
            conv["trail"], current = [], None
        if outcome in conv["trail"]:  # going back to an earlier question (e.g. "fill in again")
            del conv["trail"][conv["trail"].index(outcome):]
        elif current is not None and outcome != current:
            conv["trail"].append(current)
        conv["state"] = outcome
        return conv, said + [self._prompt(flow, outcome, ctx)]

    def _wrong(self, flow: Flow, conv: dict, ctx: Ctx, key: str, values: dict, run: Runner):
        conv["errors"] = conv.get("errors", 0) + 1
        reason = self.say("errors." + key, **values)
        if conv["errors"] >= MAX_WRONG:
            return None, [reason, self.say("common.too_many_errors")]
        return conv, [reason, self._prompt(flow, conv["state"], ctx)]

    def _back(self, conv: dict, now: dt.datetime, run: Runner):
        flow = self.flows.get(conv.get("flow"))
        if flow is None or not conv["trail"]:
            return None, [self._menu(run)]
        conv["state"] = conv["trail"].pop()
        conv["errors"] = 0
        conv["at"] = now.timestamp()
        return conv, [self._prompt(flow, conv["state"], self._ctx(conv["data"], now, None))]

    def question(self, conv: dict | None, now: dt.datetime) -> str | None:
        """The question a saved conversation waits on (a page showing it again); None if none."""
        flow = self.flows.get((conv or {}).get("flow"))
        if flow is None or conv.get("state") not in flow.states or conv.get("leaving"):
            return None
        if now.timestamp() - conv.get("at", 0) > self.timeout:
            return None
        return self._prompt(flow, conv["state"], self._ctx(conv["data"], now.astimezone(SHANGHAI), None))

    def _prompt(self, flow: Flow, state: str, ctx: Ctx) -> str:
        ask = flow.states[state]
        values = dict(ctx.data)
        values["options"] = ctx.options
        if ask.values:
            values.update(ask.values(ctx))
        return self.say(ask.prompt, **values)

    # -- events and the menu --------------------------------------------------------------------

    def _event(self, conv: dict | None, msg: Inbound, run: Runner, now: dt.datetime):
        event = msg.event
        if event in ("subscribe", "subscribe_scan"):
            run("subscribe", {})
            return None, [self.say("common.welcome"), self._menu(run)]
        if event == "unsubscribe":
            run("unsubscribe", {})
            return None, []
        if event == "click":
            key = msg.event_key.strip().lower()
            flow = self._enabled(key)
            if flow is not None:
                conv, out = self._start(flow, msg, run, now)
                if conv is not None:
                    conv["at"] = now.timestamp()
                return conv, out
            return None, [self._menu(run)]
        if event in ("scan", "enter", "user_enter_tempsession"):  # a QR scan; Alipay / mini-program chat opened
            return conv, [self._menu(run)]
        return conv, []  # view, location reports, template-send results...: nothing to say

    def _menu(self, run: Runner, with_code: bool = False) -> str:
        code = run("code_summary", {}) if with_code else {}
        items = [{"number": f.menu, "name": f.name} for f in self._menu_flows()]
        return self.say("menu.main", items=items, code=code)

    def _menu_flows(self) -> list[Flow]:
        features = self.options().get("features", {})
        return sorted((f for f in self.flows.values() if f.menu is not None and (not f.feature or features.get(f.feature))),
                      key=lambda f: (f.menu == 0, f.menu))

    def _enabled(self, name: str) -> Flow | None:
        flow = self.flows.get(name)
        if flow is None or (flow.feature and not self.options().get("features", {}).get(flow.feature)):
            return None
        return flow

    def _ctx(self, data: dict, now: dt.datetime, msg: Inbound | None) -> Ctx:
        return Ctx(data=data, now=now, options=self.options(), message=msg)
