"""Verified identity: a host site that knows its signed-in user says so with a JWT.

The host's server signs `{"sub": <user id>, "email": ..., "exp": ...}` with the site's
secret (HS256) and puts it in the page; the widget hands it to the socket in its `hello`.
A valid one marks the conversation, and so its ticket, as that user's; anything else is
refused and the conversation stays unverified. PyJWT checks the signature and the expiry;
the rest is checked here, since a JWT's claims are only as trustworthy as its issuer.
"""

from dataclasses import dataclass

import jwt
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

ALGORITHMS = ["HS256"]  # never "none", never a public-key algorithm chosen by the token
LEEWAY_SECONDS = 30  # clock skew between the host's server and this one


class InvalidIdentity(ValueError):
    """Why a signed identity was refused, in words fit for the host site's developer."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    email: str


def identity_verified(*, secret: str, token: str) -> Identity:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidIdentity("The signed identity has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidIdentity("The signed identity is not valid.") from exc
    # Short-lived: a token that lives longer than the setting was not made for one visit.
    if claims["exp"] - claims["iat"] > settings.WIDGET_IDENTITY_MAX_SECONDS:
        raise InvalidIdentity("The signed identity lives too long: sign it for one visit.")
    return Identity(user_id=_user_id(claims["sub"]), email=_email(claims.get("email")))


def _user_id(sub) -> str:
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 200:
        raise InvalidIdentity("The signed identity's sub must be the user's id, as text.")
    return sub.strip()


def _email(email) -> str:
    if email in (None, ""):
        return ""
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidIdentity("The signed identity's email is not valid.") from exc
    return email
