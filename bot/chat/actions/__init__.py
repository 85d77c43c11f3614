"""The I/O the chat flows ask for (Act), one module per flow as in handlers/, registered by name in
`registry.ACTIONS`; `common` holds what several share."""
from bot.chat.actions import (account, appeal, arrival_report, binding, declare, family,  # noqa: F401  (register)
                              limited_pass, paper)
from bot.chat.actions.registry import ACTIONS  # noqa: F401
