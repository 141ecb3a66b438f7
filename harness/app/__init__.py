"""The user's own ASGI/WSGI application (``[app]``): its environment, its checks, its
database set-up and its server. Nothing here imports the app: it runs in its own
interpreter (``[app] python``)."""
