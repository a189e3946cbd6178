"""Sending what consolidation wrote: report mail, reminders, and the long-running service."""
