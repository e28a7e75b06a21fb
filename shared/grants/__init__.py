"""Grants: what a short-lived token (link, session, public) grants, kept in Redis under its hash."""
