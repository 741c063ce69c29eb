"""One class per job type, owning both halves of it: ``start()`` (the checks, the Job row, the enqueue on commit)
and ``run()`` (what the worker does). Pages, commands and the scheduler all call ``start()``; each task name is
written once, on its class. The rules the checks apply live in ``vaults.services``."""
