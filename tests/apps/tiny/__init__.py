"""Tiny test applications as users write them (no pgstampede imports): an ASGI app with a
pool opened in its lifespan, a WSGI app with a connection per request."""
