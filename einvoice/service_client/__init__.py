"""A client of a running service over HTTP, for the `einvoice demo|batch` commands.

Only the HTTP API is used (no database, no queue), as an integrator's software would use it:
`http.py` speaks the protocol, `demo.py` and `batches.py` are the two tasks built on it, and
`cli.py` wires them to the command line.
"""
