"""Answer documents, approval, service records, extension and their exports. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
