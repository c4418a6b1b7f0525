"""Encrypted backups with a manifest (等保三级, issue #13): `flask backup create | verify | restore`.

``archive`` is the file format (SM4-GCM in authenticated chunks), ``manifest`` the per-table row counts and
checksums, ``sqlite`` and ``postgres`` the engines (online backup API; pg_dump of an exported snapshot),
``service`` the three commands without Click and ``cli`` the commands themselves.
"""
