"""Desk queues, filters, search, export and the audited reveal of personal data. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
