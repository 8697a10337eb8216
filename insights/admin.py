from insights import admin_gaps  # noqa: F401 (registers ContentGapAdmin)
