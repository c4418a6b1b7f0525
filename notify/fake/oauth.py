"""OAuth authorize pages of both platforms: a page listing the seeded identities (for browser tests to click),
the ``fake_openid`` / ``fake_userid`` shortcut, and the 302 back to ``redirect_uri?code=C&state=S``."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import g, redirect, render_template_string, request

from notify.fake.common import state

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{ title }}</title>
<style>
body{font-family:sans-serif;max-width:32rem;margin:1rem auto;padding:0 1rem;color:#222}
h1{font-size:1.2rem} .note{color:#666;font-size:.9rem}
ul{list-style:none;padding:0} li{margin:.4rem 0}
a.fake-identity{display:block;padding:.8rem 1rem;border:1px solid #1aad19;border-radius:.4rem;color:#1aad19;
text-decoration:none} a.fake-identity small{color:#666}
form{margin-top:1rem} input[type=text]{padding:.5rem;width:60%} button{padding:.5rem 1rem}
.error{color:#c00;border:1px solid #c00;padding:1rem;border-radius:.4rem}
</style></head><body>
<h1>{{ title }}</h1>
{% if error %}
<p class="error" id="fake-oauth-error">Oops! Something went wrong :( <br>{{ error }}（错误码 {{ errcode }}）</p>
{% else %}
<p class="note">这是本地模拟的{{ platform_label }}网页授权，不是真的微信。应用：{{ app_id }}；
授权后跳转到 {{ redirect_uri }}</p>
<ul>
{% for item in identities %}
<li><a class="fake-identity" id="fake-identity-{{ loop.index }}" data-identity="{{ item.id }}"
 href="{{ item.href }}">{{ item.label }} <small>{{ item.id }}{% if item.note %} · {{ item.note }}{% endif %}</small></a></li>
{% endfor %}
</ul>
<form method="get" action="{{ action }}">
{% for key, value in params %}<input type="hidden" name="{{ key }}" value="{{ value }}">{% endfor %}
<label>其他身份 <input type="text" name="{{ field }}" placeholder="{{ field }}"></label>
<button type="submit">授权</button>
</form>
{% endif %}
</body></html>"""


def error_page(title: str, message: str, errcode: int):
    g.fake_errcode = errcode
    return render_template_string(PAGE, title=title, error=message, errcode=errcode)


def _with_param(key: str, value: str) -> str:
    params = {k: v for k, v in request.args.items() if k not in ("fake_openid", "fake_userid")}
    params[key] = value
    return f"{request.base_url}?{urlencode(params)}"


def _redirect_uri_ok(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _back(uri: str, code: str, state_value: str):
    sep = "&" if "?" in uri else "?"
    return redirect(f"{uri}{sep}{urlencode({'code': code, 'state': state_value})}", code=302)


def _common_checks(title: str, expected_app_id: str):
    args = request.args
    if args.get("appid") != expected_app_id:
        return error_page(title, "appid 参数错误", 40013)
    if not _redirect_uri_ok(args.get("redirect_uri", "")):
        return error_page(title, "redirect_uri 参数错误", 10003)
    if args.get("response_type") != "code":
        return error_page(title, "response_type 参数错误", 10004)
    if args.get("scope") not in ("snsapi_base", "snsapi_userinfo", "snsapi_privateinfo"):
        return error_page(title, "scope 参数错误或没有 scope 权限", 10005)
    return None


def mp_authorize():
    title = "微信网页授权（模拟）"
    fake = state()
    with fake.lock:
        mp = fake.seed["mp"]
        problem = _common_checks(title, mp["appid"])
        if problem is not None:
            return problem
        chosen = request.args.get("fake_openid", "").strip()
        if chosen:
            code = fake.issue_code("mp", appid=mp["appid"], openid=chosen, scope=request.args["scope"])
            return _back(request.args["redirect_uri"], code, request.args.get("state", ""))
        identities = [{"id": u["openid"], "label": u["nickname"] or u["openid"],
                       "note": "已关注" if u["subscribed"] else "未关注",
                       "href": _with_param("fake_openid", u["openid"])} for u in fake.mp_users.values()]
    return _page(title, "微信公众号", mp["appid"], identities, "fake_openid")


def work_authorize():
    title = "企业微信网页授权（模拟）"
    fake = state()
    with fake.lock:
        work = fake.seed["work"]
        problem = _common_checks(title, work["corpid"])
        if problem is not None:
            return problem
        userid = request.args.get("fake_userid", "").strip()
        openid = request.args.get("fake_openid", "").strip()
        if userid and userid not in fake.work_users:
            return error_page(title, f"成员 {userid} 不存在", 60111)
        if userid or openid:
            identity = {"userid": userid} if userid else {"openid": openid}
            code = fake.issue_code("work", corpid=work["corpid"], agentid=request.args.get("agentid"),
                                   **identity)
            return _back(request.args["redirect_uri"], code, request.args.get("state", ""))
        identities = [{"id": u["userid"], "label": u["name"], "note": "企业成员",
                       "href": _with_param("fake_userid", u["userid"])} for u in fake.work_users.values()]
        identities += [{"id": o, "label": o, "note": "非企业成员",
                        "href": _with_param("fake_openid", o)} for o in work["guests"]]
    return _page(title, "企业微信", work["corpid"], identities, "fake_userid")


def _page(title, platform_label, app_id, identities, field):
    params = [(k, v) for k, v in request.args.items() if k not in ("fake_openid", "fake_userid")]
    return render_template_string(PAGE, title=title, error=None, platform_label=platform_label, app_id=app_id,
                                  redirect_uri=request.args.get("redirect_uri"), identities=identities,
                                  action=request.base_url, params=params, field=field)
