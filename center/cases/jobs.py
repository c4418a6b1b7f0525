"""Scheduled jobs of the case registry: 督办 levels 1–3. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
