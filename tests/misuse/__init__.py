"""The misuse suite (issue 11): each test tries to break a guarantee from outside, as an
attacker or a careless user would, on SQLite and PostgreSQL."""
