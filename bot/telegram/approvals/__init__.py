"""Approval requests: the supervisors' decisions, the reasons for a rejection, the requests' cards
and notices."""
