"""The JSON API under /api/v1 and its OpenAPI document. (being built)"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
