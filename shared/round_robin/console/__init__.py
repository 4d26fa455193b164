"""The admin console: server-rendered pages behind Sign in with Zendesk (functions/admin_console/app.py)."""
