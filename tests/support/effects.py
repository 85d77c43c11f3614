"""Effects for the outbox tests (loaded by the worker through EFFECT_MODULES)."""
import time
from pathlib import Path

from bot.infra.outbox import EffectLedger
from workers.effects import PermanentError, effect


@effect("test.block")
def block(ctx):
    """Write the mark, then hold the transaction open until the release file exists:
    a worker killed here has written nothing that lasts."""
    ctx.session.add(EffectLedger(key=ctx.payload["mark"], outbox_id=ctx.outbox_id, result={"attempt": ctx.attempt}))
    if ctx.payload.get("flush", True):
        ctx.session.flush()
    release = Path(ctx.payload["release"])
    Path(ctx.payload["started"]).write_text(str(ctx.attempt))
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@effect("test.flaky")
def flaky(ctx):
    """Fails until the given attempt, then records the mark."""
    if ctx.attempt < ctx.payload["succeed_at"]:
        raise RuntimeError(f"flaky failure at attempt {ctx.attempt}")
    ctx.session.add(EffectLedger(key=ctx.payload["mark"], outbox_id=ctx.outbox_id, result={"attempt": ctx.attempt}))


@effect("test.broken")
def broken(ctx):
    raise PermanentError("this payload can never work")


@effect("test.external")
def external(ctx):
    """An outside call guarded by ctx.once: counted in a file so a second real call shows."""
    def call():
        counter = Path(ctx.payload["counter"])
        counter.write_text(str(int(counter.read_text() or 0) + 1) if counter.exists() else "1")
        return {"sent": True}
    ctx.once(f"external:{ctx.payload['mark']}", call)
    if ctx.attempt < ctx.payload.get("fail_after_call_until", 0):
        raise RuntimeError("failed after the outside call")
