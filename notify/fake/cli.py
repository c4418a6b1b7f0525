"""``flask fake-wechat``: serve the fake WeChat API on a loopback port (development and test only)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from notify.fake.server import create_fake_app, serve


@click.command("fake-wechat", help="启动本地模拟微信/企业微信接口（仅开发与测试环境）")
@click.option("--port", type=int, default=None, help="端口，默认取 FAKE_WECHAT_PORT")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@with_appcontext
def fake_wechat_command(port: int | None, host: str) -> None:
    config = current_app.config
    env = config.get("MEDIATION_ENV")
    if env not in ("development", "test"):
        raise click.ClickException(f"模拟微信接口只能在 development 或 test 环境运行（当前 MEDIATION_ENV={env}）")
    port = config.get("FAKE_WECHAT_PORT", 5081) if port is None else port
    try:
        server = serve(create_fake_app(dict(config)), host, port)
    except (OSError, SystemExit) as exc:  # werkzeug prints the reason and exits when it cannot bind
        raise click.ClickException(f"模拟微信接口无法监听 {host}:{port}（端口被占用或地址无效）") from exc
    base = f"http://{host}:{server.server_port}"
    click.echo(f"[fake-wechat] 服务号 {base}/mp/cgi-bin/  企业微信 {base}/work/cgi-bin/  控制 {base}/_fake/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
