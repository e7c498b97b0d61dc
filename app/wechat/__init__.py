"""WeChat: wechatpy clients, the official-account callback and the built-in sandbox."""

from __future__ import annotations

from flask import Flask

from app.wechat.oa_callback import blp as oa_callback
from app.wechat.pay_notify import blp as pay_notify
from app.wechat.sandbox import register_sandbox


def register_wechat(app: Flask, api) -> None:
    api.register_blueprint(oa_callback)
    api.register_blueprint(pay_notify)
    if app.config.get("SANDBOX"):
        register_sandbox(app, api)
