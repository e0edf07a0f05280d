"""Keep Momento API keys stored in GCP Secret Manager fresh.

The package is laid out in layers, and imports only point down them (tests/unit/test_layers.py):

- :mod:`rotation.faces`: how a run is asked for, and how its outcome is answered: HTTP
  (Cloud Scheduler), the CloudEvent of a Secret Manager notification, the command line, and
  ``python3 -m rotation.faces.check`` for deploy.sh. Each parses, calls the service, formats.
- :mod:`rotation.service`: one run over many secrets (``service.run``), each secret's rotation
  step by step (:mod:`~rotation.service.rotate`), the lease that serialises runs, the retention
  sweep, the managed secrets, the status report, and the instance that wires the adapters.
- :mod:`rotation.adapters`: Secret Manager, Momento's auth service, the request budgets, Google
  credentials and the structured log, over their real clients.
- :mod:`rotation.rules`: the core, with no I/O: configuration, durations, schedules, the refresh
  decision, the retention plan, outcomes, notifications, costs, and the ports the adapters fill.

The token document, secret names, error codes and redaction live in ``momento_key_common``,
which the reader (``momento_key_reader``, reader/) shares; the function never imports the reader.
"""
