"""Who holds and works a case: the owner leader and the handling person, risk grading (operations), which
units may take part (units), and who hears of a hand-off (notices)."""
