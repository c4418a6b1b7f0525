"""Notifications: outbox, channels (WeCom, Official Account, SMS, log), dispatcher, callback gateway.

The only package that imports wechatpy. The outbox and channels arrive with the notifications issue; the
package is registered in FEATURES now so the kernel's layering is in place from the start.
"""


def init_app(app):
    """Registers notify's blueprints, CLI and jobs (none yet)."""
    return None
