"""The detached exporter child (``launcher.argv()``: ``python -c`` running ``child.main``), never
imported by the CLI process on the usage path. The flow, one module each::

    child   re-checks the state dir and consent, owns the marker, lingers, exits by its deadline
    drain   one destination's queue: the lock, passes over the spool, the Report
    batch   one batch: send, retry within the run, split a refused batch, count the losses
    sinks   the destinations behind one contract (``export`` -> ``Result``, ``shutdown``)
"""
