"""Applying Zendesk events and operator notices to rosters, availability and counts."""
