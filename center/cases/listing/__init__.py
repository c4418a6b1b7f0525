"""Finding cases: the desks' work queues (queues), the shared filtered list and search (search), the masked
.xlsx export and the audited reveal (export), and their pages (views)."""
