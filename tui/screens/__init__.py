"""Screens of the app: the dashboard and its dialogs (later: cron builder, job editor)."""
