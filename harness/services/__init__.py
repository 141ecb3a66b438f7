"""A variant's services, assembled: the one layer that knows every part of the service side.

It builds, for one variant run, the database and the pooler (through the runtime), the
target (built-in servers, the platform emulator's gateway, or the user's app), the faults
they can suffer and the collectors that watch them:

- ``target``: what every target starter shares (``TargetContext``, ``RunningTarget``, the
  built-in targets' ``PGSTAMPEDE_*`` environment);
- ``persistent``, ``serverless``, ``docker_targets``: the targets under each runtime;
- ``runtimes``: the ``Runtime`` seam (the runtime's services plus the target);
  ``registry``: the runtimes of ``--runtime`` and what each cannot do;
- ``bring_up``: the services of a variant up on an ExitStack (or an external one watched);
  ``collectors``: the collectors that watch them; ``faults``: fault injection.

Below it, ``runtime``, ``platform``, ``collect``, ``load`` and ``app`` know nothing of each
other's targets; above it, ``run`` drives a variant run through these.
"""
