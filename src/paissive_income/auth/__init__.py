"""Authentication: accounts, roles, sessions, login throttling and API tokens."""
