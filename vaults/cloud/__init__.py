"""The fabric clients: everything the portal says to a Service Management endpoint and its disk storage.

One session factory (``endpoint.http_session``), one error map (``errors.describe_failure``), one operation
poller (``polling``), one hosted-service reader (``hosted``). Nothing here knows the models or jobs (only
the poll interval comes from Django's settings): callers map ``FabricError`` and ``PageBlobError`` to what
their users read.
"""
