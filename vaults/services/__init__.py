"""Every rule of the vaults app and every role check, in one layer.

Views, commands, the API and the operations call these functions; each
refusal is a ``Refusal`` (``vaults.services.refusals``) with a code and a
sentence. Nothing here knows requests, templates or Celery; the functions
that start jobs live in ``vaults.operations``, one class per job type.
"""
