"""Keep Momento API keys stored in GCP Secret Manager fresh.

The package is laid out by concern:

- pure domain, no I/O: :mod:`durations`, :mod:`config`, :mod:`policy`, :mod:`retention`,
  :mod:`schedule`, :mod:`request`, :mod:`costs`; the token document, secret names, error codes
  and redaction are in ``momento_key_common``, which the reader shares;
- what the steps need from the services: :mod:`ports`; the adapters implementing it over the
  real clients: :mod:`secret_store` (Secret Manager), :mod:`momento_auth` (Momento);
- orchestration of one secret's rotation: :mod:`rotate`, with :mod:`lease` for concurrent runs
  and :mod:`sweep` for old versions; of one run over many secrets: :mod:`service`, concurrent
  within the budgets of :mod:`pacing`;
- wiring and formatting for the entry points: :mod:`runtime`, :mod:`logs`, :mod:`http`,
  :mod:`pubsub`, :mod:`cli` (``python -m rotation``).

The application that uses the keys reads them with ``momento_key_reader`` (reader/), a separate
distribution the function never imports.
"""
