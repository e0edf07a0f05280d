r"""An in-memory Secret Manager that the real ``google-cloud-secret-manager`` client can talk to.

It serves ``google.cloud.secretmanager.v1.SecretManagerService`` over plaintext gRPC, so tests
and local demos exercise the production client code path (request building, retries, pagers,
exception mapping) without a Google project. Point a client at it with::

    channel = grpc.insecure_channel(emulator.address)
    client = SecretManagerServiceClient(
        transport=SecretManagerServiceGrpcTransport(channel=channel)
    )

or run it standalone: ``python -m devtools.emulators.secret_manager --port 8085``.

Emulated, matching the real service where callers can tell the difference:

* CreateSecret, GetSecret, UpdateSecret, DeleteSecret, ListSecrets, AddSecretVersion,
  GetSecretVersion, AccessSecretVersion, ListSecretVersions, Enable/Disable/DestroySecretVersion,
  and the Locations mixin (``google.cloud.location.Locations`` GetLocation/ListLocations, the
  client's ``get_location``/``list_locations``). Every other RPC (IAM, RotateSecret, ...) answers
  UNIMPLEMENTED.
* Global secrets (``projects/P/secrets/S``) and regional ones
  (``projects/P/locations/L/secrets/S``) on every RPC and test hook. The real service serves a
  regional secret only on its location's endpoint (``secretmanager.L.rep.googleapis.com``); the
  emulator is one server for every endpoint, so a name's location alone decides which secret a
  call reaches. ``locations`` (constructor keyword and attribute) says which locations are
  served; ``None``, the default, serves every well-formed location id.
* Requests may name a project by id or number; every returned name uses the project NUMBER.
  Unknown ids get a stable made-up 12-digit number (see ``project_number``).
* Every RPC holds callers to the documented rules in the rule table below. The test hooks
  (``create_secret``, ``add_version``, ``set_version_aliases``, ``set_expire_time``,
  ``set_version_destroy_ttl``) seed state that already exists upstream and skip those rules
  (rate limits included), so a test can seed e.g. an annotation key an old release wrote.
  ``set_kms_key_enabled`` stands in for Cloud KMS: it makes a CMEK key unusable, as disabling or
  destroying it does, or usable again.
* Expiry, rotation and delayed destruction follow the injectable ``clock``; the write rate
  limits count real time (``time.monotonic``, injectable as ``monotonic``), and are on unless
  ``rate_limits=False``.
* List RPCs return newest first by create time and paginate with opaque tokens that name a
  position, so items added between pages neither repeat nor hide others. ``total_size`` is the
  unfiltered count, and 0 when a filter is set (as documented upstream).
* Filters follow the AIP-160 grammar used by Google list filters: ``AND``, ``OR``, ``NOT``/``-``,
  parentheses, and juxtaposition meaning AND. Note that OR binds tighter than AND there:
  ``a AND b OR c`` is ``a AND (b OR c)``. Supported restrictions:

  - versions: ``state:ENABLED|DISABLED|DESTROYED`` (also ``=``/``!=``) and
    ``create_time <|<=|>|>=|=|!= RFC3339`` (with a time zone, optionally quoted);
  - secrets: ``name:substring``, ``labels.KEY:VALUE``, ``labels.KEY:*``, ``create_time ...``.

  Anything else is INVALID_ARGUMENT, so a filter the emulator does not understand fails loudly
  instead of silently matching everything.

Rules enforced over gRPC. Sources: ``resources.py``/``service.py`` are the proto field
docstrings in ``google/cloud/secretmanager_v1/types/`` (the same text, with field_behavior
annotations, is in googleapis ``google/cloud/secretmanager/v1/*.proto``); quoted titles are
Google Cloud docs pages; AIP-nnn are Google's general API design rules, cited only where Secret
Manager's own docs are silent. The field docstrings state rules but not status codes: a broken
rule is INVALID_ARGUMENT (AIP-193's code for a bad argument) unless the row says otherwise.
"unknown" rows are behaviour no source pins down, with what the emulator does.

The rule table is split by concern: each module's docstring holds the rows for its code, under
the same ``| rule | source | test |`` header:

* ``names.py``: regional names, project numbers, location ids;
* ``rules.py``: the field rules (annotations, labels, secret ids, payloads, version aliases,
  topics, rotation, expiration, version_destroy_ttl, CMEK key names);
* ``store.py``: etags, ``latest`` and aliases, input only fields, expiry and due destruction;
* ``secret_rpcs.py``: UpdateSecret's mask and expiration, per-location ListSecrets, regional
  replication;
* ``version_rpcs.py``: version states, access, destruction (delayed or not), CMEK access;
* ``paging.py``: page sizes and list order;
* ``quotas.py``: the write rate limits;
* ``location_rpcs.py``: served locations, GetLocation and ListLocations;
* ``emulator.py``: the test hooks, and SECRET_ROTATE notifications.

And across all of them:

| rule | source | test |
|---|---|---|
| every other rule in this table applies to regional secrets as to global ones (versions, etags, annotations, labels, version aliases, expiration, topics, rotation, version_destroy_ttl) | "REST Resource: projects.locations.secrets" (the same fields, with the same rules); the regional-secrets pages "Create rotation schedules", "Set up notifications on a secret", "Delay destruction of regional secret versions" | test_regional_secrets_follow_the_same_field_rules |

Not emulated: IAM and authentication (any caller may do anything); the per-project request
quotas (access, read and write requests per minute; inject RESOURCE_EXHAUSTED with
``inject_fault``): of the quotas, only the per-secret and per-version write rate limits
(quotas.py) are enforced; separate endpoints (one server answers for all; see the endpoint rows
in location_rpcs.py); Cloud KMS itself (a key is usable or not as a whole: no key versions, key
IAM or propagation delay) and the CMEK status a SecretVersion reports
(``kms_key_version_name``); notifications to Pub/Sub topics, except SECRET_ROTATE through the
``publish_due_rotations`` hook (SECRET_DELETE on expiry, SECRET_VERSION_DESTROY_SCHEDULED and
the other events are never published); the REST/HTTP surface, and persistence. tags and
secret_type are stored as sent, without checks (the product does not use them).
"""  # noqa: E501  (the rule table: one row per line reads best)

from devtools.emulators.secret_manager.cli import main
from devtools.emulators.secret_manager.emulator import SecretManagerEmulator
from devtools.emulators.secret_manager.errors import EmulatorError
from devtools.emulators.secret_manager.filters import FilterError
from devtools.emulators.secret_manager.names import is_location_id, project_number
from devtools.emulators.secret_manager.quotas import RateLimit
from devtools.emulators.secret_manager.rules import MAX_PAYLOAD_BYTES

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "EmulatorError",
    "FilterError",
    "RateLimit",
    "SecretManagerEmulator",
    "is_location_id",
    "main",
    "project_number",
]
