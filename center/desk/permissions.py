"""The district center's desk and the leaders' figures, registered into core.auth.registry by center.init_app.

``report.read`` (KPIs and reports for the district's and townships' leaders) lives here until the reports
package (DESIGN.md §1, center/reports/) is built: no page requires it yet.
"""

from __future__ import annotations

from core.accounts.models import Role
from core.auth.registry import register_permission

R = Role


def init_app(app) -> None:
    register_permission("desk.district", "区中心工作台", (R.district_leader, R.center_staff), tiers=("district",))
    register_permission("report.read", "查看统计报表", (R.district_leader, R.township_leader))
