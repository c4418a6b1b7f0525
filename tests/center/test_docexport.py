"""Exports of a case document: .docx opened with python-docx, PDF made by reportlab; only through the scoped
case query (404 outside jurisdiction or for another case's document), audited, with a Chinese file name."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import unquote

from sqlalchemy import func, select

from center.cases.documents import export as docexport
from center.cases.documents import operations as documents
from core.audit.models import AuditEntry
from tests.specs.documents import ANSWERS, T0, actor, answered_draft, working_petition

APPEAL = "如不服本处理意见，可自收到本处理意见之日起30日内向示范区人民政府申请复查。"


def approved_answer(db):
    case = working_petition(db)
    doc = answered_draft(db, case)
    documents.approve_document(doc, actor=actor(db, "qs.leader"), at=T0 + timedelta(days=11))
    db.session.commit()
    return case, doc


def exports(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "case.document_exported"))


def test_docx_holds_the_document(db, demo, signed_in):
    from docx import Document

    case, doc = approved_answer(db)
    before = exports(db)
    response = signed_in("qs.staff").get(f"/cases/{case.number}/documents/{doc.id}.docx")
    assert response.status_code == 200
    assert response.mimetype == docexport.DOCX_MIME
    disposition = response.headers["Content-Disposition"]
    assert f'filename="document-{doc.id}.docx"' in disposition
    name = unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1))
    assert name == f"信访事项处理意见书-{doc.doc_no}.docx"
    text = "\n".join(p.text for p in Document(io.BytesIO(response.data)).paragraphs)
    for needle in (doc.doc_no, "青石镇人民政府", "信访事项处理意见书", "王建国", APPEAL, *ANSWERS,
                   "补发征收补偿款差额", "公开补偿标准", "追究相关人员责任"):
        assert needle in text, needle
    assert exports(db) == before + 1
    row = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.document_exported")
                            .order_by(AuditEntry.id.desc()))
    assert (row.object_id, row.changed_fields, row.actor_name) == (str(doc.id), ["docx"], "qs.staff")


def test_pdf_is_made_by_reportlab(db, demo, signed_in):
    case, doc = approved_answer(db)
    response = signed_in("qs.leader").get(f"/cases/{case.number}/documents/{doc.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    data = response.data
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 1
    assert b"ReportLab" in data and b"STSong-Light" in data
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]


def test_a_long_document_spans_pages(db, demo):
    case, doc = approved_answer(db)
    doc.body = "\n".join(f"第{i}段：经调查核实，现答复如下。" * 4 for i in range(120))
    assert len(re.findall(rb"/Type\s*/Page\b", docexport.to_pdf(doc))) >= 3
    db.session.rollback()


def test_exports_outside_jurisdiction_or_case_are_not_found(db, demo, signed_in):
    case, doc = approved_answer(db)
    other = working_petition(db, applicant="李桂兰")
    db.session.commit()
    before = exports(db)
    stranger, staff = signed_in("cg.staff"), signed_in("qs.staff")
    for ext in ("docx", "pdf"):
        assert stranger.get(f"/cases/{case.number}/documents/{doc.id}.{ext}").status_code == 404
        assert staff.get(f"/cases/{other.number}/documents/{doc.id}.{ext}").status_code == 404
        assert staff.get(f"/cases/{case.number}/documents/2147483648.{ext}").status_code == 404
    assert exports(db) == before


def test_file_names_are_safe():
    class Doc:
        id, title, doc_no = 7, "答复意见书", "青石/信复〔2026〕第1号"

    assert docexport.filename(Doc, "pdf") == "答复意见书-青石_信复〔2026〕第1号.pdf"
    Doc.doc_no = None
    assert docexport.filename(Doc, "docx") == "答复意见书-7.docx"
    header = docexport.content_disposition("答复 意见书.pdf", "document-7.pdf")
    assert header == "attachment; filename=\"document-7.pdf\"; filename*=UTF-8''%E7%AD%94%E5%A4%8D%20%E6%84%8F%E8%A7%81%E4%B9%A6.pdf"
