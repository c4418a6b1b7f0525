"""The case registry (事项): one number for life from intake to archive (DOMAIN.md §2, DESIGN.md §4).

models (Case, Party, CaseEvent, Deadline, CaseCounter) · numbering (next_number) · lifecycle (the state
machine table, ``transition``, the statutory clock) · operations (``file_case`` / ``register_case``: every
intake rule, repeat detection) · units (where one files, which units may handle or receive a case) · queries
(scoped reads, ``get_case_or_404``) · identity (document and phone checks).
"""
