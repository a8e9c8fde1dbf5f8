"""Where a run trains: this process, several processes here through accelerate, or a Ray cluster.

    python -m studio train run.yaml --on accelerate --strategy fsdp --num-processes 2
    python -m studio train run.yaml --on ray --ray-address http://127.0.0.1:8265 --ray-workers 2

``accelerate_yaml`` writes the accelerate config a run is launched with (saved in the run
directory); ``checks`` refuses, before anything starts, what cannot work there; ``ray_jobs``
submits, watches and stops the Ray job. What runs inside the job is studio.train.ray_driver,
and the studio follows any of them through the run directory (studio.train.remote).
"""
