"""Talking to Zendesk: the API client, the OAuth token endpoint, our webhook and trigger, subdomains."""
