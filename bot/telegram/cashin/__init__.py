"""The cash-in conversation, from the login to the confirm tap, and the payment's news afterwards
(its status, alerts, the supervisors' feed)."""
