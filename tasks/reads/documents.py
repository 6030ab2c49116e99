"""Official documents (督办通知书, 约谈通知书 …) issued by escalations, as the caller may see them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from domain.definitions import DOCUMENT_KINDS
from models import OfficialDocument
from tasks.accounts import Principal
from tasks.reads import where_given
from tasks.scope import scoped, visible


def document_ref(doc: OfficialDocument) -> dict[str, Any]:
    """What a list shows of a document, with the addresses of its official layout and PDF."""
    return {"id": doc.id, "kind": doc.kind, "kind_label": DOCUMENT_KINDS.get(doc.kind, doc.kind),
            "doc_number": doc.doc_number, "title": doc.title, "issued_on": doc.issued_on,
            "html_url": f"/api/v1/documents/{doc.id}/html", "pdf_url": f"/api/v1/documents/{doc.id}/pdf"}


def documents_by_id(session: Session, ids: list[int]) -> dict[int, OfficialDocument]:
    return {d.id or 0: d for d in session.exec(select(OfficialDocument).where(col(OfficialDocument.id).in_(ids)))} if ids else {}


def load_document(session: Session, principal: Principal, document_id: int) -> OfficialDocument:
    """The document if the caller may see its township; 404 otherwise (never 403)."""
    doc = session.get(OfficialDocument, document_id)
    return visible(principal, doc, doc.township_id if doc else None, f"没有编号为 {document_id} 的公文")


def list_documents(session: Session, principal: Principal, *, year: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
    """Documents issued to the caller's townships, newest first."""
    stmt = where_given(scoped(select(OfficialDocument), principal, OfficialDocument.township_id),
                       (OfficialDocument.year, year))
    rows = session.exec(stmt.order_by(col(OfficialDocument.year).desc(), col(OfficialDocument.number).desc()).limit(limit))
    return [document_ref(d) | {"escalation_id": d.escalation_id} for d in rows]


def get_document(session: Session, principal: Principal, document_id: int) -> dict[str, Any]:
    """One document: number, addressee, body and the hash of its PDF."""
    doc = load_document(session, principal, document_id)
    return document_ref(doc) | {"issuer": doc.issuer, "addressee": doc.addressee, "body": doc.body,
                                "escalation_id": doc.escalation_id, "sha256": doc.sha256}
