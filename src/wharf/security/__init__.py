"""Partner security: access tokens, signing keys, rate limits, sealing at rest, revocation.

Each concern is its own module (``keyring``, ``tokens``, ``ratelimit``, ``sealing``,
``revocation``); import the one you need. Nothing is imported here, so that loading one
concern never drags in the others (the token code pulls in joserfc, for instance).
"""
