"""Attachments of a case: upload, serve to those who may see the case. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
