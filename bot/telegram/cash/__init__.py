"""Paper money: /cash (the cash each cashier holds) and /handover (its two-sided handover), write-
offs and handovers recorded on a cashier's behalf."""
