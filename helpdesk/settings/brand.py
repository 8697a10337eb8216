"""The desk's brand (part of helpdesk.settings), read from the environment: whose support
desk this is, in the words customers read and the model is told.

The defaults name no product, so a deployment that forgets to set them says "Support" and
"our product", never someone else's name. The demo knowledge base brings its own brand
(knowledge/demo_kb/brand.env), which the development tooling sets as environment
defaults before Django loads (helpdesk/devstack).
"""

import os


def _text(name: str, default: str) -> str:
    # An empty variable is "not set": a blank greeting or product name is never what is meant.
    return os.environ.get(name, "").strip() or default


# The product customers ask about, as the prompt and the greeting name it ("Acme Projects").
DESK_PRODUCT_NAME = _text("DESK_PRODUCT_NAME", "our product")
_named = bool(os.environ.get("DESK_PRODUCT_NAME", "").strip())
# The assistant's own name, if it has one ("Ada"): the prompt's first sentence and the
# default greeting introduce it. Empty: an unnamed "customer-support assistant".
DESK_ASSISTANT_NAME = _text("DESK_ASSISTANT_NAME", "")
# The system prompt's opening, before its rules: who the assistant is and what it is for
# ("You are Ada, the assistant of Acme Projects, a planning app for builders."). Empty: made
# from the names above ("You are Ada, the customer-support assistant for Acme Projects.").
# Keep it constant: the LLM server's prefix cache reuses the system prompt.
DESK_SYSTEM_PROMPT_INTRO = _text("DESK_SYSTEM_PROMPT_INTRO", "")
# The desk's name: the page's title and heading, the signature of agents' emails, and the
# name an authenticator app shows beside the TOTP code.
SITE_NAME = _text("SITE_NAME", f"{DESK_PRODUCT_NAME} Support" if _named else "Support")
# The first thing the chat page says, before any question.
DESK_GREETING = _text(
    "DESK_GREETING",
    (f"Hi! I'm {DESK_ASSISTANT_NAME}. " if DESK_ASSISTANT_NAME else "Hi! ")
    + f"Ask me anything about {DESK_PRODUCT_NAME}. If I can't help, you can escalate to a "
    "human at any time.",
)
