"""Mediation sessions, evaluations, follow-up visits and 复查/复核 pages. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
