"""复查/复核 (信访工作条例 Art. 35, DOMAIN.md §2): the petitioner's request to the organ one level up, its
decision within the deadline (hearing time not counted) and the consequences — 撤销 reopens the case, any other
复核 decision ends it (终结) — in operations.py; the case page's panel and its form posts in views.py (routes on
the ``case_aftercare`` blueprint, so their endpoints and URLs stay), their load schemas in schemas.py, the
panel and forms in templates/cases/."""
