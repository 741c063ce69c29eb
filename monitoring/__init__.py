"""Monitoring: /metrics for Prometheus, /healthz for load balancers and supervisors, the workers' heartbeat.

Everything here reads the database and Redis at request time, so several web processes answer alike; nothing in
the product imports this app.
"""
