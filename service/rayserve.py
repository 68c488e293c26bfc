"""``matcher serve --ray``: the service as a Ray Serve deployment (extra ``ray``).

Each replica is a Ray actor that builds the same app (:func:`service.app.create_app`)
and runs its start-up, so it loads the served state and follows the store's change log
as a gunicorn worker does: a write through one replica is served by the others at their
next request (tested with two replicas). Ray Serve's proxy listens on ``--host``/``--port``
and spreads requests over the replicas; it replaces a replica that dies.

The replicas open ``MATCHER_HOME`` like any worker, so they must run on the node that holds
it (SQLite in WAL mode needs one host): a local Ray started here (the default), or a
cluster whose replicas are placed on that node. Replicas on several nodes would need the
change log shipped to each (``docs/operations.md``).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from matcher.app.settings import Settings
from service.app import create_app

__all__ = ["application", "serve_on_ray"]

logger = logging.getLogger(__name__)


def application(settings: Settings, replicas: int) -> Any:
    """The Ray Serve application: ``replicas`` copies of the app, one CPU each.

    Raises:
        ModuleNotFoundError: Ray Serve is not installed (extra ``ray``).
    """
    from ray import serve

    def build() -> Any:  # runs in each replica: its own app, facade and state
        return create_app(settings)

    deployment: Any = serve.deployment(
        serve.ingress(build)(),
        name="matcher",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": 1},
        health_check_period_s=5,
    )
    return deployment.bind()


def serve_on_ray(
    settings: Settings, *, address: str | None, host: str, port: int, replicas: int
) -> None:
    """Run the deployment until SIGINT or SIGTERM, then take it down.

    On a Ray started here, Serve and Ray shut down with it; on a cluster joined, only this
    application is deleted.

    Args:
        settings: the service's settings (sent to every replica).
        address: a Ray cluster to join (``auto``, ``host:6379``, ``ray://…``); None starts
            a local Ray for the duration.
        host: the address Serve's proxy binds.
        port: its port.
        replicas: how many copies of the app.
    """
    import ray
    from ray import serve

    if address is None:
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    stop = threading.Event()

    def interrupted(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        serve.start(http_options={"host": host, "port": port})
        serve.run(application(settings, replicas), name="matcher", route_prefix="/")
        logger.info("serving on http://%s:%d with %d Ray Serve replicas", host, port, replicas)
        stop.wait()
    finally:
        if address is None:  # our own Ray: all of Serve goes with it
            serve.shutdown()  # type: ignore[no-untyped-call]
        else:  # a shared cluster: remove this application only
            serve.delete("matcher")
        ray.shutdown()
