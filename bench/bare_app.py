"""The baseline of the webhook benchmark: a bare Flask endpoint that parses the same WeChat XML
and answers fixed XML (quality.md), served with the same gunicorn settings."""
from flask import Flask, Response, request
from wechatpy import parse_message

app = Flask(__name__)
FIXED = ("<xml><ToUserName><![CDATA[u]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName>"
         "<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ok]]></Content></xml>")


@app.post("/wechat")
def wechat():
    parse_message(request.get_data())
    return Response(FIXED, mimetype="application/xml")
