from sqlalchemy import select, text

from bot.domain.models import AuditLog, Staff
from bot.domain.staff import authenticate, hash_token
from tests.support.tokens import altered


def test_staff_create_prints_a_token_once_and_stores_its_hash(app, services):
    result = app.test_cli_runner().invoke(args=["staff", "create", "--role", "community", "--scope", "330624",
                                                "--name", "新昌社区"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("hcs_") and len(token) > 40
    with services.db.session() as s:
        staff = s.scalar(select(Staff))
        assert staff.role == "community" and staff.scope == ["330624"]
        assert staff.token_hash == hash_token(token) and token not in staff.token_hash
        assert authenticate(s, token).id == staff.id
        assert authenticate(s, altered(token)) is None and authenticate(s, None) is None
        assert s.scalar(select(AuditLog.action)) == "staff.create"
    with services.db.engine.connect() as conn:
        dump = str(conn.execute(text("SELECT * FROM staff")).all())
    assert token not in dump


def test_staff_create_refuses_bad_input(app, services):
    runner = app.test_cli_runner()
    for args, words in ((["--role", "boss", "--name", "x"], "role must be one of"),
                        (["--role", "community", "--name", "x"], "needs --scope"),
                        (["--role", "community", "--scope", "abc", "--name", "x"], "district codes"),
                        (["--role", "admin", "--name", " "], "name must be")):
        result = runner.invoke(args=["staff", "create", *args])
        assert result.exit_code == 2 and words in result.output, result.output
    with services.db.session() as s:
        assert s.scalar(select(Staff)) is None
