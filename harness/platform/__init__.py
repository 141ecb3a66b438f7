"""The serverless platform emulator: a gateway that runs each request on an instance.

    config.py     PlatformConfig: the knobs, as JSON for the gateway process
    gateway.py    the gateway process (HTTP, /__platform/* endpoints, CLI)
    pool.py       InstancePool: routing, cold starts, freeze/thaw, reap, scale-out, throttling
    instances.py  Instance: one instance's lifecycle record
    spawner.py    TemplateSpawner: the gateway's side of the template process
    launch.py     what the template runs: the built-in handler or a user's app, which python
    instance.py   the built-in handler's runtime inside an instance: loads it, serves frames
                  (the template itself, and the runtime of a user's app: harness.apphost)
    docker_spawner.py     DockerSpawner: instances as containers (spawner = "docker")
    container_instance.py the entry point of an instance container
    protocol.py   the built-in handler's frames (the framing: harness.apphost.wire)
    bucket.py     TokenBucket (scale_rate)
    stats.py      the /__platform/stats records and JSON
    pidfile.py    DIR/instances.pids
"""
