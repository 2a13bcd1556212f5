"""Stand-ins for the outside world, shared by the tests and the terminal demo."""
