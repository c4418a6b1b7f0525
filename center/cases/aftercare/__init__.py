"""After the answer: evaluations and follow-up visits (回访) (operations), their case-page panel and the
blueprint that mediation's and 复查/复核's forms share (views), the forms' schemas (schemas) and the demo rows
of mediation, follow-up and review (demo). 复查/复核 and 终结 are in center.cases.reviews."""
