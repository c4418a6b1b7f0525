"""Intake (登记): the registration operation every channel calls (form, API, the grid worker's 代办), repeat
detection, case numbers, identity documents and phones, and the intake and triage pages."""
