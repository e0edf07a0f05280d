"""Keep Momento API keys stored in GCP Secret Manager fresh.

The package is laid out by concern:

- pure domain, no I/O: :mod:`durations`, :mod:`config`, :mod:`token`, :mod:`policy`,
  :mod:`retention`, :mod:`request`, :mod:`redact`;
- what the steps need from the services: :mod:`ports`; the adapters implementing it over the
  real clients: :mod:`secret_store` (Secret Manager), :mod:`momento_auth` (Momento);
- orchestration of one secret's rotation: :mod:`rotate`, with :mod:`lease` for concurrent runs;
  of one run over many secrets: :mod:`service`, concurrent within the budgets of :mod:`pacing`;
- wiring and formatting for the entry points: :mod:`runtime`, :mod:`logs`, :mod:`http`,
  :mod:`cli` (``python -m rotation``).
- for the application that uses the keys, not the function: :mod:`consumer` (``KeyReader``).
"""
