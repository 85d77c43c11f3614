"""RQ jobs: plain importable functions taking ids. See workers/outbox.py for how effects run once."""
