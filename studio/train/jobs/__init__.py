"""The training job of this process and what surrounds it.

- ``manager``: JobManager, the one job (start, stop, snapshot, wait; resume); a run sent elsewhere
  goes through the launcher it is given (studio.launch.remote);
- ``queue``: Starts that wait for the running job, in order, per person;
- ``admission``: what does not fit this machine's memory or disk is refused before loading;
- ``disk``: what a run writes, and how much a full disk needs;
- ``faults``: runs whose process died are marked, with their cause;
- ``shutdown``: SIGTERM/SIGINT become a Stop with a checkpoint;
- ``progress``: the Progress snapshot every viewer reads, and the Tracker that fills it.
"""
