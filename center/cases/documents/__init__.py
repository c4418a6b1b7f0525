"""Formal documents of a case: drafting from the text templates (texts), approval, service records and the
one extension (operations), .docx/PDF files (export), and their pages (views)."""
