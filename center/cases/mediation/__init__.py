"""Mediation (三调联动): sessions, their outcome and its approval."""
