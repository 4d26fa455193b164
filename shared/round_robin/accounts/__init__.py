"""Connected accounts: their credentials and where they are stored, token refresh, the registry, alerts."""
