"""Outbound HTTP for WeChat: the platform hosts are rewritten to the configured base URLs (政务外网
gateway, 政务微信 private host, or the local stand-in) and every other host fails loudly, so a forgotten
endpoint can never leak to the internet or silently hang."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

MP_HOST = "https://api.weixin.qq.com/"
WECOM_HOST = "https://qyapi.weixin.qq.com/"


class DenyAllAdapter(BaseAdapter):
    def send(self, request, **kwargs):
        raise requests.ConnectionError(f"outbound host not configured for WeChat: {urlsplit(request.url).netloc}")

    def close(self):
        return None


class RewriteAdapter(HTTPAdapter):
    """Sends https://<platform host>/<path> to the configured base: the base names the ``cgi-bin/`` directory,
    and paths outside it (``sns/oauth2/access_token`` of web authorisation) go to the base's root."""

    def __init__(self, host_prefix: str, base: str):
        super().__init__()
        self.host_prefix = host_prefix
        self.base = base if base.endswith("/") else base + "/"
        self.root = self.base[:-len("cgi-bin/")] if self.base.endswith("cgi-bin/") else self.base

    def send(self, request, **kwargs):
        if request.url.startswith(self.host_prefix):
            request.url = self.root + request.url[len(self.host_prefix):]
        return super().send(request, **kwargs)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def build_session(config) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # only the configured proxy, never one from the environment
    deny = DenyAllAdapter()
    session.mount("http://", deny)
    session.mount("https://", deny)
    mp_base, wecom_base = config["MP_API_BASE"], config["WECOM_API_BASE"]
    for base in {mp_base, wecom_base, config.get("MP_OAUTH_BASE") or mp_base}:
        session.mount(_origin(base), HTTPAdapter(pool_maxsize=20))
    session.mount(MP_HOST, RewriteAdapter(MP_HOST, mp_base))
    session.mount(WECOM_HOST, RewriteAdapter(WECOM_HOST, wecom_base))
    if config.get("WECHAT_HTTPS_PROXY"):
        session.proxies = {"https": config["WECHAT_HTTPS_PROXY"], "http": config["WECHAT_HTTPS_PROXY"]}
    if config.get("WECHAT_CA_BUNDLE"):
        session.verify = config["WECHAT_CA_BUNDLE"]
    return session
