"""Mediation (三调联动): sessions, their outcome and its approval (operations); the case page's panel and its
form posts (views, on the ``case_aftercare`` blueprint), their schemas (schemas) and templates/cases/."""
