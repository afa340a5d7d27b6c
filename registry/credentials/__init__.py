"""Credentials: the professional-title and qualification credential documents."""
