"""``python -m notify.fake [--port N] [--host H]``: the stand-in as ``flask --app wsgi notify fake-wechat`` serves
it, configured the same way (core.config: MEDIATION_ENV, MEDIATION_FAKE_WECHAT_PORT, MP_*/WECOM_*), without
importing the whole app."""

from notify.fake.cli import standalone_command

if __name__ == "__main__":
    standalone_command(prog_name="python -m notify.fake")
