"""Departments at the centers: dispatch of cases to resident, rotating and on-call departments. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
