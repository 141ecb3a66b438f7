"""The code that runs a user's ASGI/WSGI application inside platform instances.

Standard library only, and no import of any other harness module: these files run under the
app's own interpreter (``PlatformConfig.app_python``), whose virtualenv has none of
pgstampede's packages. The gateway exposes this directory alone to that interpreter, as the
top-level package ``pgstampede_apphost`` (harness.platform.launch); the modules therefore
import each other relatively.

    wire.py        the gateway <-> instance frames (also used by the gateway: one definition)
    template.py    the template process: preloads modules, forks or execs instances
    instance.py    an app instance: init (import + lifespan startup), then serve frames
    loader.py      find the application object ("module:attr", factory, root on sys.path)
    asgi.py        the ASGI host (http scope and lifespan)
    wsgi.py        the WSGI host (PEP 3333, in a thread pool)
    background.py  work still running after a response: pending units, completions, thaws
    exceptions.py  an unhandled exception as a record: type, first line, the app's own frame
    served.py      the persistent server's entry: the app wrapped, its exceptions to a file
    expose.py      (run by the harness) the folder that exposes this package to the app
"""
