"""The embeddable widget's settings (part of helpdesk.settings). Sites themselves, with their
origins, look and brand, are rows in the admin (widget.Site)."""

import os

# How long the widget's session token works without a visit (widget/sessions.py): each
# connection issues a new one, so this is the idle time after which a tab starts afresh.
WIDGET_SESSION_SECONDS = int(os.environ.get("WIDGET_SESSION_SECONDS", str(4 * 3600)))
# The longest a host site's signed identity may live (its exp less its iat): one visit's.
WIDGET_IDENTITY_MAX_SECONDS = int(os.environ.get("WIDGET_IDENTITY_MAX_SECONDS", str(24 * 3600)))
# How long the widget's socket waits for its first frame, `hello`, before closing.
WIDGET_HELLO_SECONDS = float(os.environ.get("WIDGET_HELLO_SECONDS", "10"))
