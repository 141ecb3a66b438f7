"""``pgstampede init``: a first scenario for the app in a folder, read from its code.

    source.py    the folder as text: Python modules, variables read, imports, venv, schema,
                 package.json (nothing is run)
    dsn.py       which variables are the database's, and what each is set to
    probe.py     run in the app's own interpreter (standard library only): the app object
                 and its route table, printed as JSON
    probing.py   runs the probe and reads its answer
    database.py  the private PostgreSQL the probe's app connects to
    detect.py    all of it as one Detection (findings.py)
    writer.py    the scenario text
    command.py   the command: refuse to overwrite, write, say what was found
"""

from harness.scaffold.command import init_app

__all__ = ["init_app"]
