"""What bench/peers.py runs in its child processes, one peer at a time.

``driver`` runs one peer once (enqueue, start the peer's own workers, wait, verify, stop);
``shell`` is the job body all peers share; ``huey_app`` and ``procrastinate_app`` define the
Huey instance and the Procrastinate app their workers import by dotted path. RQ needs no app
module: its workers import ``peer_tasks.shell.run_true`` directly.

Nothing here imports a peer library at package import time, so one missing peer cannot break
another.
"""
