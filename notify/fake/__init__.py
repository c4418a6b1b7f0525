"""A fake WeChat API server for development, tests and benchmarks (never production).

One loopback HTTP server answers both platforms our notifications use, under path prefixes:

- Official Account (服务号): ``{base}/mp/cgi-bin/…`` (token, stable_token, message/template/send) and OAuth
  ``{base}/mp/connect/oauth2/authorize`` + ``{base}/mp/sns/oauth2/access_token``;
- WeCom (企业微信/政务微信): ``{base}/work/cgi-bin/…`` (gettoken, message/send, auth/getuserinfo) and OAuth
  ``{base}/work/connect/oauth2/authorize``;
- control API ``{base}/_fake/…`` (messages, requests, faults, reset, seed, tokens/revoke, clock, push).

``create_fake_app(config)`` builds the Flask app; ``start_fake_server()`` serves it on a background thread;
``flask fake-wechat`` or ``python -m notify.fake`` (notify/fake/cli.py; ``make run`` uses the latter) serves it
on its own port. The default seed matches the development config (MP_* / WECOM_* in core/config.py), see
notify/fake/state.py.
"""

from notify.fake.push import build_plaintext, build_request
from notify.fake.server import create_fake_app, start_fake_server, stop, stop_fake_server

__all__ = ["build_plaintext", "build_request", "create_fake_app", "start_fake_server", "stop",
           "stop_fake_server"]
