"""OrgUnit and Department.

The tree uses a materialized path of ids ("/1/7/42/") with an index, so "everything under this township"
is one range scan. Several districts may share a database: each is a root with its own case prefix.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, CString, TimestampMixin
from core.enums import LabelledEnum, enum_column


class UnitKind(LabelledEnum):
    district = "district", "区/县"
    township = "township", "乡镇/街道"
    village = "village", "村"
    community = "community", "社区"
    grid = "grid", "网格"


UNIT_KIND_LABELS = UnitKind.labels()

#: Tier of each kind: villages and communities are one tier.
TIER = {
    UnitKind.district: "district",
    UnitKind.township: "township",
    UnitKind.village: "village",
    UnitKind.community: "village",
    UnitKind.grid: "grid",
}

#: Which kinds may sit directly under which.
ALLOWED_PARENT = {
    UnitKind.district: (None,),
    UnitKind.township: (UnitKind.district,),
    UnitKind.village: (UnitKind.township,),
    UnitKind.community: (UnitKind.township,),
    UnitKind.grid: (UnitKind.village, UnitKind.community),
}


class OrgUnit(TimestampMixin, Base):
    __tablename__ = "org_units"
    __audited__ = True
    __table_args__ = (Index("ix_org_units_path", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "org_unit_kind"))
    #: 12-digit statistical division code; grids carry a local code (no national code exists for them).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    path: Mapped[str] = mapped_column(CString(255), default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    #: District roots only: case numbers read <prefix>-<year>-<6 digits>.
    case_prefix: Mapped[str | None] = mapped_column(String(8), unique=True)
    #: Name of this unit's mediation node, e.g. "示范区社会矛盾纠纷调处化解中心".
    center_name: Mapped[str | None] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[OrgUnit | None] = relationship(remote_side="OrgUnit.id", back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent", order_by="OrgUnit.code")
    departments: Mapped[list[Department]] = relationship(back_populates="unit", order_by="Department.id")

    @property
    def tier(self) -> str:
        return TIER[self.kind]

    @property
    def kind_label(self) -> str:
        return UNIT_KIND_LABELS[self.kind]

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/") if p]

    def is_within(self, other: OrgUnit) -> bool:
        return self.path.startswith(other.path)

    def __repr__(self) -> str:
        return f"<OrgUnit {self.id} {self.kind} {self.code}>"


class DepartmentKind(LabelledEnum):
    resident = "resident", "常驻"
    rotating = "rotating", "轮驻"
    on_call = "on_call", "随驻"


DEPARTMENT_KIND_LABELS = DepartmentKind.labels()


class Department(TimestampMixin, Base):
    """A department stationed at a center (district or township): resident, rotating or on-call."""

    __tablename__ = "departments"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[DepartmentKind] = mapped_column(enum_column(DepartmentKind, "department_kind"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    duty: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    unit: Mapped[OrgUnit] = relationship(back_populates="departments")

    @property
    def kind_label(self) -> str:
        return DEPARTMENT_KIND_LABELS[self.kind]

    def __repr__(self) -> str:
        return f"<Department {self.id} {self.kind} {self.name}>"
