"""WeChat web authorisation (网页授权) for our mobile pages: the state, the authorize URL, the code exchange.

The ``state`` is random, single-use, bound to the browser's server-side session (it is stored there, never
trusted from the query alone), and expires after ``WECHAT_OAUTH_STATE_MINUTES``. The code is exchanged on the
server: WeCom through ``auth/getuserinfo`` (wechatpy's helper still calls the legacy ``user/getuserinfo``), the
Official Account through ``sns/oauth2/access_token`` (scope ``snsapi_base``: the OpenID, nothing personal).
Which user an identity signs in is decided by notify's bindings, never by anything in the request.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from wechatpy.exceptions import WeChatClientException

logger = logging.getLogger(__name__)

SESSION_KEY = "wx_oauth"


class OAuthFailed(Exception):
    """The exchange did not yield an identity (bad or spent code, platform error, timeout)."""


@dataclass(frozen=True)
class Identity:
    platform: str  # "work" | "mp"
    external_id: str
    #: WeCom: a member of the enterprise (userid), not an outside WeChat user (openid)
    member: bool = True
    #: Official Account: a snapshot (virtual) user of a 朋友圈 page preview; never signed in
    snapshot: bool = False


def platform_of(user_agent: str | None) -> str | None:
    """Which in-app browser this is: WeCom (and 政务微信, a WeCom build) or WeChat; None for any other."""
    ua = (user_agent or "").lower()
    if "wxwork" in ua or "govwechat" in ua:
        return "work"
    if "micromessenger" in ua:
        return "mp"
    return None


def begin(session, platform: str, *, next_url: str, bind_code: str | None = None) -> str:
    """Start a sign-in: a fresh state in the session (replacing any earlier, unfinished one)."""
    state = secrets.token_urlsafe(24)
    session[SESSION_KEY] = {"state": state, "platform": platform, "next": next_url, "bind": bind_code,
                            "at": int(time.time())}
    return state


def take(session, state: str | None, *, max_age_seconds: int) -> dict | None:
    """The pending sign-in if ``state`` matches it; spent either way (a replayed callback finds nothing)."""
    pending = session.pop(SESSION_KEY, None)
    if not pending or not isinstance(state, str) or not state:
        return None
    if not hmac.compare_digest(pending.get("state", ""), state):
        return None
    if time.time() - int(pending.get("at", 0)) > max_age_seconds:
        return None
    return pending


def authorize_url(config, platform: str, redirect_uri: str, state: str) -> str:
    if platform == "work":
        params = {"appid": config["WECOM_CORP_ID"], "redirect_uri": redirect_uri, "response_type": "code",
                  "scope": "snsapi_base", "state": state, "agentid": config["WECOM_AGENT_ID"]}
        base = config["WECOM_OAUTH_BASE"]
    else:
        params = {"appid": config["MP_APP_ID"], "redirect_uri": redirect_uri, "response_type": "code",
                  "scope": "snsapi_base", "state": state}
        base = config["MP_OAUTH_BASE"]
    return f"{base}connect/oauth2/authorize?{urlencode(params)}#wechat_redirect"


def exchange(config, platform: str, code: str) -> Identity:
    """The identity behind a web-authorisation ``code`` (one use; five minutes on the platform's side)."""
    from notify.wechat.clients import MpClient, WecomClient

    if not code or len(code) > 512:
        raise OAuthFailed("missing code")
    try:
        if platform == "work":
            result = WecomClient(config).get("auth/getuserinfo", params={"code": code})
            if result.get("userid"):
                return Identity("work", result["userid"])
            if result.get("openid"):
                return Identity("work", result["openid"], member=False)
            raise OAuthFailed("no identity in answer")
        client = MpClient(config)
        result = client._get_json("GET", "https://api.weixin.qq.com/sns/oauth2/access_token",
                                  params={"appid": config["MP_APP_ID"], "secret": config["MP_SECRET"],
                                          "code": code, "grant_type": "authorization_code"})
        if not result.get("openid"):
            raise OAuthFailed("no openid in answer")
        return Identity("mp", result["openid"], snapshot=bool(result.get("is_snapshotuser")))
    except WeChatClientException as exc:
        logger.warning("wechat oauth exchange failed on %s: errcode %s", platform, exc.errcode)
        raise OAuthFailed(f"errcode {exc.errcode}") from exc
    except (OSError, ValueError) as exc:  # connection errors, timeouts, a body that is not JSON
        logger.warning("wechat oauth exchange failed on %s: %s", platform, type(exc).__name__)
        raise OAuthFailed(type(exc).__name__) from exc
