"""Registry spec of the unmasked export's reason form (center.cases.listing.reveal_export)."""

from __future__ import annotations

from tests.specs.base import FormSpec

FORM_SPECS = {
    "case_list.export_full": FormSpec(
        "qs.staff", page=lambda demo: "/cases/export/full", schema="center.cases.listing.reveal_export.ReasonArgs",
        valid=lambda demo: {"reason": "核对重复信访人员名单"}, success_status=200),
}
