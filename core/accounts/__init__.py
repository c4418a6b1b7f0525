"""Users, memberships, login, server-side sessions, lockout and the security policy."""
