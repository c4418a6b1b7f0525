"""``flask fake-wechat`` and ``python -m notify.fake``: serve the fake WeChat API on a loopback port (development
and test only). Both read the same configuration; the second skips importing the whole app (``make run`` starts
the stand-in so, next to the app's other processes)."""

from __future__ import annotations

from collections.abc import Mapping

import click
from flask import current_app
from flask.cli import with_appcontext

from notify.fake.server import create_fake_app, serve

HOST = "127.0.0.1"


def run_stand_in(config: Mapping, host: str = HOST, port: int | None = None) -> None:
    """Serve the stand-in until interrupted. click.ClickException when it must not (production) or cannot run."""
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


_port_option = click.option("--port", type=int, default=None, help="端口，默认取 FAKE_WECHAT_PORT")
_host_option = click.option("--host", default=HOST, show_default=True, help="监听地址")


@click.command("fake-wechat", help="启动本地模拟微信/企业微信接口（仅开发与测试环境）")
@_port_option
@_host_option
@with_appcontext
def fake_wechat_command(port: int | None, host: str) -> None:
    run_stand_in(current_app.config, host, port)


@click.command("fake-wechat", help="启动本地模拟微信/企业微信接口（仅开发与测试环境），不加载整个应用")
@_port_option
@_host_option
def standalone_command(port: int | None, host: str) -> None:
    import logging
    import os

    from core.config import ConfigError, load_config

    if os.environ.get("MEDIATION_ENV", "production") not in ("development", "test"):
        run_stand_in({"MEDIATION_ENV": os.environ.get("MEDIATION_ENV", "production")})  # refuses, says why
    try:
        config = load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    # The app's log format (core.app.create_app), so the stand-in's request lines read like the others.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_stand_in(config, host, port)
