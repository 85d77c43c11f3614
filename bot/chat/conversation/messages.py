"""Channel-neutral messages: what a handler sees and what it answers."""
from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("text", "image", "voice", "video", "location", "link", "event", "other")


@dataclass(frozen=True)
class Inbound:
    channel: str          # wechat / wechat_mp / alipay
    app_id: str
    user: str             # the platform's user id (openid, Alipay user id)
    kind: str             # one of KINDS
    text: str = ""        # text messages; for link messages the title
    event: str = ""       # events: subscribe, unsubscribe, scan, click, view, location ...
    event_key: str = ""
    media_id: str = ""
    msg_id: str = ""      # the platform's message id, when it has one
    created_at: int = 0   # the platform's timestamp (seconds)
    extra: dict = field(default_factory=dict)
    # the channel's replay guard: (its signed timestamp + nonce, the body's digest, seconds to
    # remember them); the same pair with another body is refused (bot.chat.conversation.store)
    replay: tuple[str, str, int] | None = None

    @property
    def dedupe_key(self) -> str:
        """Retries of one message share this key (WeChat: MsgId; events: sender + time + event)."""
        if self.msg_id:
            return f"m:{self.msg_id}"
        return f"e:{self.user}:{self.created_at}:{self.event}:{self.event_key}"

    @property
    def conversation_key(self) -> str:
        return f"{self.channel}:{self.app_id}:{self.user}"


@dataclass(frozen=True)
class Reply:
    kind: str            # text (more kinds come with pushes: image)
    text: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text}

    @classmethod
    def from_dict(cls, d: dict) -> "Reply":
        return cls(d["kind"], d.get("text", ""))


def text(body: str) -> Reply:
    return Reply("text", body)
