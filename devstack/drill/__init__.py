"""Fault drills against the local stack: `scripts/stack drill faults` (docs/reliability.md).

A drill runs its own API and worker processes over its own keyspace and database, sends a steady
real-time and batch load, kills servers on a schedule, and then compares every answer the load was
given with what is stored. It lives in devstack/ because it starts and kills the stack's servers.
"""
