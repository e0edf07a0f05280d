"""The adapters: the outside world behind the ports of :mod:`rotation.rules.ports`.

Each wraps one real client (Secret Manager, Momento's auth service, Google credentials, the
structured log, the request budgets) and maps its errors to ours in one place, by status code.
"""
