"""Connecting an account: state and PKCE, the callback's work, migration from API tokens, the pages."""
