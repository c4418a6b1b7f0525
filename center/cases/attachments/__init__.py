"""Progress notes (notes) and attachments (operations): photos cleaned, files checked by content and
served only within the case's jurisdiction (views)."""
