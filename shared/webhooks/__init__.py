"""Signed webhooks to clients: endpoints, announcements, durable deliveries, the event log."""
