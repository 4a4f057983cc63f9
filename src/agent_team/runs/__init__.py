"""Analysis runs: tables, owner-scoped service functions, huey jobs and run events."""
