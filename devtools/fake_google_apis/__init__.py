"""A local fake of the Google Cloud REST APIs that `deploy.sh` drives through the real gcloud CLI.

It keeps just enough state for create / describe / update / delete flows and records every
request (method, API, path, query, headers without Authorization, body) in memory and, when
asked, to a JSONL file, so tests can assert on what gcloud actually sent.

Point gcloud at it with :func:`gcloud_env`. Each API gets its own path prefix
(``http://127.0.0.1:PORT/<api>/``), so routing never depends on guessing the service from a path.
The server is also an HTTP proxy: gcloud builds regional Cloud Run hosts
(``us-central1-<override host>``) that never resolve, and a proxy catches those requests. And
Secret Manager's regional endpoints, ``https://secretmanager.LOCATION.rep.googleapis.com/``
(where deploy.sh sends each command on a regional secret), reach it as ``CONNECT HOST:443``: for
a location it serves (``served_locations``) it answers the tunnel over TLS as that host, with a
certificate from its own throwaway authority (``ca_file``, which :func:`gcloud_env` has gcloud
trust); each request records the ``host`` it went to. Any other host is refused (502), as one
that does not resolve.

Run standalone::

    python -m devtools.fake_google_apis --port 0 --record requests.jsonl

It prints ``fake google apis listening on 127.0.0.1:PORT``, then a line naming the certificate
authority to trust for the regional endpoints (``CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE``), then
serves until killed. ``--served-locations us-central1,europe-west4`` sets the locations Secret
Manager serves.

Documented rules it enforces
----------------------------

An emulator proves only what it enforces. Every value deploy.sh sends through gcloud is checked
against the rule Google documents for it, and a value past the rule is answered the way Google
answers: HTTP 400, status INVALID_ARGUMENT, with a ``google.rpc.BadRequest`` field violation,
and nothing is stored (updates are checked on the resulting resource before it is kept). The
messages are the fake's own words: don't parse them. Tests are in tests/deploy/ (the rule tests
in test_fake_rules.py talk HTTP to the fake; test_deploy*.py run the real gcloud).

"iam.proto" is google/iam/admin/v1/iam.proto, "policy.proto" google/iam/v1/policy.proto,
"job.proto"/"target.proto" are google/cloud/scheduler/v1/, "functions.proto"
google/cloud/functions/v2/, "service.proto"/"resources.proto" google/cloud/secretmanager/v1/,
"alert.proto"/"common.proto" google/monitoring/v3/, "dashboard.proto"/"layouts.proto"/
"widget.proto"/"xychart.proto"/"metrics.proto"/"alertchart.proto" google/monitoring/dashboard/v1/,
"distribution.proto" google/api/, all in github.com/googleapis/googleapis. The same comments are
in the installed gcloud SDK's generated messages (monitoring_v3_messages.py,
monitoring_v1_messages.py, logging_v2_messages.py), where these were read.

Each module's docstring holds the table (rule, source, test) of the rules it enforces, its
unknowns last:

- :mod:`.rules`: IAM policy members and roles, labels, the refusal shape (shared by the APIs)
- :mod:`.projects`: Service Usage (services:batchEnable, generateServiceIdentity)
- :mod:`.iam`: service accounts and custom roles
- :mod:`.secret_manager`: secrets, payloads, topics and rotation, regional endpoints, Locations
- :mod:`.pubsub`: topic names, topic and project IAM policies
- :mod:`.functions`: Cloud Functions v2 (function id, env vars, memory, timeout, event trigger)
- :mod:`.scheduler`: Cloud Scheduler jobs
- :mod:`.logging_metrics`: log-based metrics
- :mod:`.monitoring`: alert policies and dashboards

The rest: :mod:`.server` (the HTTP server, routing, recording, the state), :mod:`.tls` (the
CONNECT proxy's certificates), :mod:`.common` (what every API module shares).
"""

from __future__ import annotations

from .common import BAD_REQUEST_TYPE, JSON, PROJECT_NUMBER
from .rules import check_labels
from .secret_manager import DEFAULT_SERVED_LOCATIONS
from .server import API_OVERRIDES, FakeGoogleApis, RecordedRequest, gcloud_env
from .tls import regional_host

__all__ = [
    "API_OVERRIDES",
    "BAD_REQUEST_TYPE",
    "DEFAULT_SERVED_LOCATIONS",
    "JSON",
    "PROJECT_NUMBER",
    "FakeGoogleApis",
    "RecordedRequest",
    "check_labels",
    "gcloud_env",
    "regional_host",
]
