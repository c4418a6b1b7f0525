"""The village side's desks, registered into core.auth.registry by village.init_app: the village (community)
desk for its head and cadres at a village, the grid worker's phone pages."""

from __future__ import annotations

from core.accounts.models import Role
from core.auth.registry import register_permission

R = Role


def init_app(app) -> None:
    register_permission("desk.village", "村(社区)工作台", (R.village_head, R.village_cadre), tiers=("village",))
    register_permission("desk.grid", "网格员手机端", (R.grid_worker,))
