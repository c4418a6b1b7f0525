"""督办: the scheduled scan and a leader's 督办 by hand (operations), its job (jobs) and its case-page panel
(views)."""
