from __future__ import annotations

import pytest
import requests


@pytest.fixture
def sandbox(live_server):
    """Talk to the sandbox WeChat that the app's clients use."""

    class Sandbox:
        base = live_server + "/_sandbox/wechat"

        def fault(self, api: str, **fault) -> None:
            requests.post(self.base + "/faults", json={"api": api, **fault}, timeout=5)

        def stats(self) -> dict:
            return requests.get(self.base + "/stats", timeout=5).json()

        def messages(self) -> list[dict]:
            return requests.get(live_server + "/_sandbox/wechat/messages", timeout=5).json()[
                "items"
            ]

    return Sandbox()
