"""The D1 data set ("district" preset of bench/generate.py): one realistic large district — 27 townships,
~1,000 villages/communities, ~3,000 grids, the demo's logins — and a few years of cases with their whole
record, built with the project's own rule tables and helpers and written with SQLAlchemy Core in bulk.

- ``names``: place names, people's names and the words cases are made of;
- ``org``: the org tree, departments, users and memberships;
- ``people``: parties with valid identity documents and phones, encrypted and blind-indexed;
- ``clock``: deadline rows as center.cases.lifecycle.clock keeps them;
- ``cases``: where a case comes from, who works it, the transition / timeline / document helpers;
- ``steps``: one case's lifecycle, step by step; ``routing``: 包案, departments joining, evaluation, 复查/复核;
- ``weighted``: weighted picks;
- ``writer``: ids, rows and the chunked inserts.
"""
