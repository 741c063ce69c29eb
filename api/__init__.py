"""The portal's REST API, ``/api/v1/``: the same operations and services the pages call, as JSON, with personal
access tokens and problem responses (RFC 9457)."""
