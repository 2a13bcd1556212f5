"""The roster (/cashiers, adding, removing, blocking people) and the audit trail (/audit)."""
