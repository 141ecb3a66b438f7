"""The serverless platform emulator: a gateway that runs each request on an instance.

    config.py     PlatformConfig: the knobs, as JSON for the gateway process
    gateway.py    the gateway process (HTTP, /__platform/* endpoints, CLI)
    pool.py       InstancePool: a request's way to an instance, joining the four parts below
    routing.py    Router: which instance serves a request; the queue
    scaling.py    Scaler: cold starts for the queue (max_instances, scale_rate, throttle)
    lifecycle.py  Lifecycle: cold start, freeze/thaw, reap, recycle, kill
    members.py    Member: the pool's record of one instance
    stats.py      StatsBook: what the pool counts (records: harness.results.platform_stats)
    kind.py       the seam: the Instance and InstanceKind protocols, Reply, InstanceGone
    kinds.py      the registry of kinds of instance (template, container)
    framed.py     FramedKind/FramedInstance: instances spoken to in frames over a Unix socket
    spawner.py    TemplateSpawner: the gateway's side of the template process
    launch.py     what the template runs: the built-in handler or a user's app, which python
    instance.py   the built-in handler's runtime inside an instance: loads it, serves frames
                  (the template itself, and the runtime of a user's app: harness.apphost)
    docker_spawner.py     DockerSpawner: instances as containers (spawner = "docker")
    container_instance.py the entry point of an instance container
    protocol.py   the built-in handler's request frames (the framing: harness.apphost.wire)
    stream.py     streamed responses: StreamBody and the gateway's relay
    bucket.py     TokenBucket (scale_rate)
    pidfile.py    DIR/instances.pids
"""
