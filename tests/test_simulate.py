"""`flask --app wsgi simulate`: a terminal chat, through the real webhook."""
from tests.support.chat import CLEAN, REGISTRATION, WECHAT_ENV


def test_simulate_completes_a_declaration(env):
    from bot import create_app
    from bot.services import Services

    svc = Services.from_env(dict(env, **WECHAT_ENV))
    app = create_app(services=svc)
    lines = "\n".join(["/subscribe", *REGISTRATION, *CLEAN, "1", "/image", "/click MY_CODE", "/quit"]) + "\n"
    result = app.test_cli_runner().invoke(args=["simulate", "--user", "cli-user"], input=lines)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "欢迎关注" in out and "申报成功" in out and "绿码" in out
    assert "暂时无法识别图片" in out and "张*的健康码" in out
    safe = app.test_cli_runner().invoke(args=["simulate", "--user", "cli-user", "--safe"], input="2\n")
    assert "张*的健康码" in safe.output
    svc.close()


def test_simulate_needs_a_token(app):
    result = app.test_cli_runner().invoke(args=["simulate"], input="1\n")
    assert result.exit_code != 0 and "WECHAT_TOKEN" in result.output
