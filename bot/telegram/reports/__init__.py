"""The supervisors' reports: /report, /digest, /export, /pending, /balance, /recheck, and the
daily digest."""
