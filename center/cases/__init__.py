"""The case registry (事项): one number for life from intake to archive (DOMAIN.md §2, DESIGN.md §4).

At this level, what every subject shares: ``models/`` (Case, Party, CaseEvent, Deadline …), ``queries``
(scoped reads, ``get_case_or_404``), ``permissions`` (who may take each step), ``registry`` (the case page's
extension points), ``views`` (the case page), ``presenters`` and ``demo``. Each subject is a subpackage with
DESIGN.md §2's file names: ``intake/``, ``lifecycle/``, ``routing/``, ``documents/``, ``mediation/``,
``aftercare/``, ``reviews/``, ``supervision/``, ``attachments/``, ``listing/``.
"""
