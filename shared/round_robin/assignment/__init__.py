"""Assigning tickets: the webhook receiver, per-ticket claims, rotation, rosters, and the assigner."""
