"""The work record every subject shares (a case today; a screening report, a ledger item, a booking, a patrol
stop, a key person as they arrive): ``timeline.log`` writes a subject's event and its audit row together, and
``models.WorkSubject`` is the one row per subject that its events and deadlines point to."""
