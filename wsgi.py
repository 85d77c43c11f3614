"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""
import sys

from bot import create_app
from bot.infra.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # one line naming the setting, not a traceback
    print(f"healthcode: {exc}", file=sys.stderr)
    sys.exit(2)
