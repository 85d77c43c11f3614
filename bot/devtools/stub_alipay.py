"""The platform stub's Alipay half: GET or POST /gateway.do as python-alipay-sdk calls it, the
request's RSA2 signature checked when the app's key is known, answers signed with the stub's own
"Alipay" key (bot.devtools.platform_stub says what the stub does as a whole)."""
from __future__ import annotations

import base64
import json
from urllib.parse import unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding


class AlipayGateway:
    """Mixed into the stub's request handler (self.state, self._caller_gone come from there)."""

    def _alipay(self, query: str):
        params = {}
        for pair in query.split("&"):
            if "=" in pair:
                k, v = pair.split("=", 1)
                params[unquote_plus(k)] = unquote_plus(v)
        method = params.get("method", "")
        key = method.replace(".", "_") + "_response"
        if not method or "sign" not in params:
            return self._alipay_answer("error_response", {"code": "40001", "msg": "Missing Required Arguments",
                                                          "sub_code": "isv.missing-signature"}, signed=False)
        if self.state.app_public_key is not None:
            unsigned = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
            try:
                self.state.app_public_key.verify(base64.b64decode(params["sign"]), unsigned.encode(
                    params.get("charset") or "utf-8"), padding.PKCS1v15(), hashes.SHA256())
            except (InvalidSignature, ValueError):
                return self._alipay_answer("error_response", {"code": "40002", "msg": "Invalid Arguments",
                                                              "sub_code": "isv.invalid-signature"}, signed=False)
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            biz = {}
        fault = self.state.fault_for(method, biz.get("to_user_id"))
        if fault and fault.get("code"):
            return self._alipay_answer(key, {"code": str(fault["code"]), "msg": "Business Failed",
                                             "sub_code": fault.get("sub_code", "isv.error"),
                                             "sub_msg": fault.get("sub_msg", "stub fault")})
        if method == "alipay.open.public.message.custom.send":
            if not biz.get("to_user_id"):
                return self._alipay_answer(key, {"code": "40004", "msg": "Business Failed",
                                                 "sub_code": "isv.to-user-id-empty"})
            if self._caller_gone():
                self.close_connection = True
                return None
            self.state.record("alipay", {"touser": biz["to_user_id"], "app_id": params.get("app_id"),
                                                        "msgtype": biz.get("msg_type"), "alipay": biz})
        return self._alipay_answer(key, {"code": "10000", "msg": "Success"})

    def _alipay_answer(self, key: str, body: dict, signed: bool = True):
        inner = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        text = '{"' + key + '":' + inner
        if signed:
            sign = base64.b64encode(self.state.alipay_key.sign(inner.encode(), padding.PKCS1v15(), hashes.SHA256()))
            text += ',"sign":"' + sign.decode() + '"'
        raw = (text + "}").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html;charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
