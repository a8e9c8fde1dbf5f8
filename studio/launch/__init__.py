"""Where a run trains: this process, several processes here through accelerate, or a Ray cluster.

    python -m studio train run.yaml --on accelerate --strategy fsdp --num-processes 2
    python -m studio train run.yaml --on ray --ray-address http://127.0.0.1:8265 --ray-workers 2

- ``accelerate_yaml`` writes the accelerate config a run is launched with (saved in the run directory);
- ``cluster`` asks a Ray cluster whether it answers and has what the workers ask (what the config and
  this machine alone refuse is studio.train.placement's, part of every validation);
- ``ray_jobs`` submits, watches and stops the Ray job; ``ray_driver`` is what runs inside it;
- ``remote`` sends a run to either and follows it through the run directory; the studio and the
  CLI hand it to studio.train.jobs.manager.JobManager as its launcher.

This package sits above studio.train: it starts trainings, training never imports it. The
section of the config it reads, LaunchConfig, is studio.config.launch_section.
"""
