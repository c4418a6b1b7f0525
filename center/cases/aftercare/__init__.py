"""After the answer: evaluations, follow-up visits (回访), 复查/复核 and 终结 (operations), their case-page
panels, including mediation's (views), and their demo rows (demo)."""
