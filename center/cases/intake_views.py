"""Intake (登记) and triage/routing (分流) pages of the case registry. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
