"""``storyline batch``: the per-article work of a run (read, clean, embed, enrich) as Dask tasks.

    from storyline.batch import run_batch
    result = run_batch(["articles/", "big.jsonl"], "out/")                  # LocalCluster 2 x 1
    result = run_batch(inputs, "out/", scheduler="tcp://scheduler:8786")   # an existing cluster

The store, events, storylines and export are the same as ``storyline run``'s on the same input:
see ``runner.py`` for how, ``partitions.py`` for partitioning, ``tasks.py`` for what the workers run
and how each loads its models once, and the README ("storyline batch on Dask") for real clusters.
"""

from storyline.batch.runner import BatchResult, dask_client, run_batch

__all__ = ["BatchResult", "dask_client", "run_batch"]
