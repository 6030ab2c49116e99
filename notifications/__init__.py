"""Outgoing mail: the mailer seam, templates, and a local SMTP sink for development."""
