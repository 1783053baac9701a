"""Business rules. Plain functions taking a Session and the acting user; they never commit."""
