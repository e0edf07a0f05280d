"""The fake Secret Manager: secrets, versions and their IAM policies, on the global endpoint
(``/secretmanager/v1/projects/P/secrets/S``) and on each served location's regional endpoint
(``https://secretmanager.L.rep.googleapis.com/v1/projects/P/locations/L/secrets/S``, reached
through the CONNECT tunnel of :mod:`.tls`), plus the Locations API.

Secret IAM policy bindings follow the policy rules of :mod:`.rules`, and rotation topics the
topic name rule of :mod:`.pubsub`. The sources are named as in the package docstring.

| rule | source | test |
|---|---|---|
| secret id: 1-255 letters, numerals, ``-`` and ``_`` | service.proto CreateSecretRequest.secret_id | test_secret_id_is_at_most_255_letters_digits_hyphens_underscores |
| secret labels: the label rules (rules.py) | resources.proto Secret.labels | test_secret_labels_follow_the_label_rules |
| secret payload: at most 64 KiB | resources.proto SecretPayload.data | test_secret_payload_is_at_most_64_kib |
| secret payload checksum: data_crc32c, when sent, must match | resources.proto SecretPayload.data_crc32c | test_secret_payload_checksum_must_match |
| secret topics: at most 10, each a topic name | resources.proto Secret.topics, Topic.name | test_secret_topics_are_at_most_10_topic_names |
| secret rotation: Secret.topics must be set to configure rotation | resources.proto Rotation | test_secret_rotation_needs_topics |
| rotation period: in seconds, 3600s (1h) to 3153600000s (100 years) | resources.proto Rotation.rotation_period | test_secret_rotation_period_is_1h_to_100_years_in_seconds |
| rotation period set: next_rotation_time must be set | resources.proto Rotation.rotation_period | test_secret_rotation_period_needs_a_next_rotation_time |
| next rotation time: at least 5 minutes in the future (checked when the request sets it) | resources.proto Rotation.next_rotation_time | test_secret_next_rotation_time_is_at_least_5_minutes_ahead |
| update mask: a masked field absent from the body is cleared (``--remove-rotation-schedule --remove-topics``) | google/protobuf/field_mask.proto (update semantics); AIP-134 | test_removing_the_schedule_and_topics_clears_them |
| regional secrets, ``projects/P/locations/L/secrets/S``, are served by L's regional endpoint ``secretmanager.L.rep.googleapis.com``: create (parent ``projects/P/locations/L``), get, list, versions add and list, IAM policy get and set, update; names come back with the project number and the location | "Secret Manager locations" (regional endpoints); "Create a regional secret" ("Regional endpoints use the following format: SERVICE_NAME.LOCATION.rep.googleapis.com"; gcloud: configure the regional endpoint first); "REST Resource: projects.locations.secrets" (name "projects/*/locations/*/secrets/*"); service.proto CreateSecretRequest.parent, ListSecretsRequest.parent | test_regional_secrets_are_served_by_their_locations_endpoint |
| the global endpoint refuses a regional name: 400 INVALID_ARGUMENT "The provided Secret ID [...] does not match the expected format [projects/*/secrets/*]" | seen in public reports: googleapis/google-cloud-python#13389, quarkiverse/quarkus-google-cloud-services#919 | test_the_global_endpoint_refuses_regional_names; every regional call deploy.sh makes goes to its location's endpoint: test_every_regional_call_goes_to_its_locations_endpoint_and_no_other |
| a regional endpoint serves its own location only: a name in another location, or a global name, is refused | "Secret Manager locations" ("Regional endpoints are request endpoints that only allow requests to proceed if the affected resource exists in the location specified by the endpoint") | test_a_regional_endpoint_serves_only_its_own_location |
| only a location Secret Manager serves has a regional endpoint: a tunnel to any other host is refused, as a host that does not resolve | "Secret Manager locations" (one regional endpoint per supported location) | test_only_served_locations_have_an_endpoint; deploy.sh never calls one: test_a_location_secret_manager_does_not_serve_is_refused_before_anything_is_created |
| the Locations API, on the global endpoint: GetLocation (``projects/P/locations/L``) returns a served location (name with the project number, location_id), NOT_FOUND for another; ListLocations (``projects/P``) lists the served ones | "Method: projects.locations.get" and "Method: projects.locations.list" (``GET https://secretmanager.googleapis.com/v1/{name=projects/*/locations/*}``); "gcloud secrets locations describe"; AIP-131 (NOT_FOUND) | test_the_locations_api_knows_the_served_locations_only |
| a regional secret has no replication: a create (or update) carrying one is refused | "REST Resource: projects.locations.secrets" (its JSON representation has no replication field); gcloud refuses ``--replication-policy`` with ``--location`` (surface/secrets/create.py) | test_a_regional_secret_has_no_replication; deploy.sh seeds one without: test_the_regional_seed_secret_is_created_without_replication_in_its_location |
| a regional secret and a global one with the same id, or two locations' with the same id, are different secrets | "REST Resource: projects.locations.secrets" (the location is part of the name) | test_the_same_id_globally_and_in_two_locations_is_three_secrets |
| ListSecrets is per location: ``projects/P/locations/L`` lists L's secrets only | "List regional secrets and view secret details" (``gcloud secrets list --location=LOCATION``); service.proto ListSecretsRequest.parent | test_list_secrets_is_per_location |
| regional secrets follow every secret rule above: secret id, labels, payload, topics, rotation (period 1 h to 100 years, next time 5 minutes ahead, topics needed), IAM policy members and roles | "REST Resource: projects.locations.secrets" (the same fields); the regional "Create rotation schedules" page (the same requirements) | test_regional_secrets_follow_the_same_field_rules |
| unknown: the status of a data_crc32c mismatch; 400 INVALID_ARGUMENT, as devtools/emulators/secret_manager/ answers | | |
| unknown: whether Secret Manager refuses a rotation topic that does not exist or that its service agent may not publish to (Topic.name says only that publication needs the permission); not refused, and deploy.sh grants before it schedules | | |
| unknown: whether Secret Manager returns Secret.topics names with the project id or number; the fake returns them as sent, deploy.sh matches by topic id | | |
| unknown: the fake never advances next_rotation_time or publishes SECRET_ROTATE; deploy.sh only checks that one is set | | |
| unknown: secrets.list filter grammar beyond ``labels.KEY=VALUE`` (what deploy.sh sends); the fake refuses other terms | | |
| unknown: the status of a call on a regional endpoint naming another location's secret or a global one; the fake answers 400 INVALID_ARGUMENT | | |
| unknown: the global endpoint's refusal of regional names is reported for gRPC clients; the fake refuses REST calls the same way (gcloud sends ``--location`` calls to the global endpoint unless told otherwise, and deploy.sh tells it) | | |
| unknown: which locations Secret Manager serves (the fake's default set is its own choice; tests set ``served_locations``); the status of GetLocation for one it doesn't serve (the fake: 404 NOT_FOUND), the Location's project (id or number; the fake: number) and other fields; whether a regional endpoint serves the Locations API (the fake: the global one only, which deploy.sh uses) | | |
| unknown: what a client meets for an unserved location's host is a failed DNS lookup, not an answer; the fake, as the proxy, refuses the tunnel with 502 (gcloud retries, then fails, after about 30 s) | | |
| unknown: whether Secret Manager refuses or ignores a replication sent for a regional secret, and whether a regional version reports a replication status; the fake refuses it and reports none | | |
| unknown: whether ListSecrets with parent ``projects/P`` also lists regional secrets; the fake lists the global ones only | | |
| unknown: whether ``secretmanager.secrets.list`` on the project (the lister role) covers ListSecrets in a location; the fake checks no permissions | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import base64
import copy
import re
from datetime import UTC, datetime
from typing import Any

import google_crc32c

from .common import (
    JSON,
    PROJECT_NUMBER,
    ApiError,
    Call,
    IamPolicy,
    Routes,
    apply_mask,
    not_found,
    now,
)
from .pubsub import check_topic_name
from .rules import check_labels, check_policy, duration, integer, invalid, string
from .tls import regional_host

DEFAULT_SERVED_LOCATIONS = frozenset(
    {"europe-west1", "europe-west4", "me-central2", "us-central1", "us-east1"}
)
"""The locations the fake's Secret Manager serves unless told otherwise (the fake's choice, not
Google's list: tests set ``served_locations``)."""
REGIONAL_API = "secretmanager.rep"
"""The route table's name for Secret Manager's regional endpoints (recorded as api secretmanager,
with the endpoint's host)."""

# Secret Manager: service.proto CreateSecretRequest.secret_id; resources.proto SecretPayload.
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
MAX_PAYLOAD_BYTES = 64 * 1024


def check_secret_id(secret_id: Any) -> None:
    value = string(secret_id, "secret_id")
    if not _SECRET_ID.fullmatch(value):
        raise invalid(
            "secret_id",
            f"Invalid secret_id {value!r}: at most 255 letters, numerals, hyphens (-) and "
            "underscores (_)",
        )


def check_payload(payload: Any) -> None:
    if not isinstance(payload, dict):
        raise invalid("payload", "payload must be an object")
    try:
        data = base64.b64decode(string(payload.get("data", ""), "payload.data"), validate=True)
    except ValueError:
        raise invalid("payload.data", "Invalid value at 'payload.data': not base64") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise invalid("payload.data", f"Secret payload is {len(data)} bytes; the limit is 64 KiB")
    if "dataCrc32c" in payload:
        sent = integer(payload["dataCrc32c"], "payload.data_crc32c")
        if sent != google_crc32c.value(data):
            raise invalid(
                "payload.data_crc32c",
                "Checksum mismatch. Data corrupted in transit or request is invalid.",
            )


# Secret Manager: resources.proto Secret.topics, Rotation.
MAX_SECRET_TOPICS = 10
MIN_ROTATION_PERIOD_S, MAX_ROTATION_PERIOD_S = 3600, 3_153_600_000
MIN_ROTATION_LEAD_S = 300
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)")


def _timestamp(value: Any, field: str) -> datetime:
    text = string(value, field)
    if not _TIMESTAMP.fullmatch(text):
        raise invalid(field, f"Invalid value at '{field}' ({text!r}): not an RFC 3339 Timestamp")
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed)


def check_secret_notifications(secret: JSON, *, new_next_rotation: bool) -> None:
    """Secret.topics and Secret.rotation, on the secret as it would be stored."""
    topics = secret.get("topics") or []
    if not isinstance(topics, list) or len(topics) > MAX_SECRET_TOPICS:
        raise invalid("secret.topics", f"A secret may have at most {MAX_SECRET_TOPICS} topics")
    for i, topic in enumerate(topics):
        if not isinstance(topic, dict):
            raise invalid(f"secret.topics[{i}]", "a topic must be an object")
        check_topic_name(topic.get("name"), f"secret.topics[{i}].name")
    rotation = secret.get("rotation") or {}
    if not rotation:
        return
    if not topics:
        raise invalid("secret.rotation", "Secret.topics must be set to configure rotation")
    if "rotationPeriod" in rotation:
        period = duration(rotation["rotationPeriod"], "secret.rotation.rotation_period")
        if not MIN_ROTATION_PERIOD_S <= period <= MAX_ROTATION_PERIOD_S:
            raise invalid(
                "secret.rotation.rotation_period",
                f"rotation_period {rotation['rotationPeriod']} must be at least 3600s (1h) and "
                "at most 3153600000s (100 years)",
            )
        if "nextRotationTime" not in rotation:
            raise invalid(
                "secret.rotation.next_rotation_time",
                "If rotation_period is set, next_rotation_time must be set",
            )
    if "nextRotationTime" in rotation:
        when = _timestamp(rotation["nextRotationTime"], "secret.rotation.next_rotation_time")
        lead = (when - datetime.now(UTC)).total_seconds()
        if new_next_rotation and lead < MIN_ROTATION_LEAD_S:
            raise invalid(
                "secret.rotation.next_rotation_time",
                "next_rotation_time must be at least 5 minutes in the future",
            )


def secret_matches_filter(secret: JSON, filter_text: str) -> bool:
    """The one filter form deploy.sh sends: labels.KEY=VALUE (ANDed when space-separated)."""
    labels = secret.get("labels") or {}
    for term in filter_text.split():
        if term.upper() == "AND":
            continue
        match = re.fullmatch(r"labels\.([^=:]+)[=:](.*)", term)
        if match is None:
            raise invalid("filter", f"The fake only understands labels.KEY=VALUE, not {term!r}")
        if labels.get(match[1]) != match[2].strip('"'):
            return False
    return True


def _regional_name_on_the_global_endpoint(c: Call) -> JSON:
    """The global endpoint refuses a regional secret's name (seen in public reports:
    googleapis/google-cloud-python#13389, quarkiverse/quarkus-google-cloud-services#919)."""
    name = f"projects/{c.params['project']}/locations/{c.params['location']}/secrets"
    rest = c.params.get("rest")
    if rest:
        name += "/" + rest.split(":", 1)[0]
    raise invalid(
        "name",
        f"The provided Secret ID [{name}] does not match the expected format "
        "[projects/*/secrets/*]",
    )


def _global_name_on_a_regional_endpoint(c: Call) -> JSON:
    """A regional endpoint serves only its own location's secrets ("Secret Manager
    locations")."""
    where = regional_host(c.endpoint or "")
    raise invalid(
        "name",
        f"{where} serves regional secrets of location {c.endpoint} only, not global ones: use "
        "secretmanager.googleapis.com",
    )


class SecretManagerApi(Routes):
    """Secrets on the global and the regional endpoints, and the Locations API."""

    served_locations: set[str]
    secrets: dict[str, JSON]
    secret_versions: dict[str, list[JSON]]
    secret_policies: dict[str, IamPolicy]

    def add_secret(
        self,
        project: str,
        secret_id: str,
        payloads: tuple[bytes, ...] = (),
        labels: dict[str, str] | None = None,
        location: str | None = None,
    ) -> None:
        """Create a secret (and versions) directly, as if it had been there before a test: a
        regional one in ``location`` (no replication), a global one (automatic) without."""
        with self._lock:
            body: JSON = {} if location else {"replication": {"automatic": {}}}
            if labels:
                body["labels"] = dict(labels)
            self._create_secret(project, secret_id, body, location)
            for data in payloads:
                self._add_version(project, secret_id, base64.b64encode(data).decode(), location)

    def _add_secret_manager_routes(self) -> None:
        route = self._route

        # --- Secret Manager: the Locations API, on the global endpoint
        @route("GET", "secretmanager", "/v1/projects/{project}/locations/{location}")
        def get_location(c: Call) -> JSON:
            return self._location(c.params["location"])

        @route("GET", "secretmanager", "/v1/projects/{project}/locations")
        def list_locations(_c: Call) -> JSON:
            found = [self._location(location) for location in sorted(self.served_locations)]
            return {"locations": found} if found else {}

        # --- Secret Manager: the global endpoint serves global secrets only, and a regional
        # endpoint its own location's secrets only.
        for method in ("GET", "POST", "PATCH", "DELETE"):
            for tail in ("/secrets", "/secrets/{rest*}"):
                route(
                    method, "secretmanager", "/v1/projects/{project}/locations/{location}" + tail
                )(_regional_name_on_the_global_endpoint)
                route(method, REGIONAL_API, "/v1/projects/{project}" + tail)(
                    _global_name_on_a_regional_endpoint
                )
        self._add_secret_routes("secretmanager", "/v1/projects/{project}")
        self._add_secret_routes(REGIONAL_API, "/v1/projects/{project}/locations/{location}")

    def _add_secret_routes(self, api: str, base: str) -> None:  # noqa: PLR0915 - a route table
        """Secret Manager's secret routes on one kind of endpoint: ``api`` "secretmanager" (the
        global endpoint, global secrets under ``projects/P``) or REGIONAL_API (a regional
        endpoint, its location's secrets under ``projects/P/locations/L``)."""
        route = self._route
        regional = api == REGIONAL_API

        def place(c: Call) -> tuple[str, str | None]:
            """The project and location (None: global) of the secret a call names. A regional
            endpoint serves only its own location ("Secret Manager locations")."""
            if not regional:
                return c.params["project"], None
            location = c.params["location"]
            if location != c.endpoint:
                raise invalid(
                    "name",
                    f"Location {location!r} is not served by this regional endpoint "
                    f"({regional_host(c.endpoint or '')}): use {regional_host(location)}",
                )
            return c.params["project"], location

        @route("GET", api, base + "/secrets/{secret}")
        def get_secret(c: Call) -> JSON:
            project, location = place(c)
            return self._secret(project, c.params["secret"], location)

        @route("POST", api, base + "/secrets")
        def create_secret(c: Call) -> JSON:
            project, location = place(c)
            check_secret_id(c.q("secretId"))
            body = c.body or {}
            if "labels" in body:
                check_labels(body["labels"])
            if location is not None and "replication" in body:
                raise invalid(
                    "secret.replication",
                    "A regional secret has no replication: its data stays in its location",
                )
            if "topics" in body or "rotation" in body:
                check_secret_notifications(body, new_next_rotation=True)
            return self._create_secret(project, c.q("secretId"), body, location)

        @route("GET", api, base + "/secrets/{secret}/versions")
        def list_versions(c: Call) -> JSON:
            project, location = place(c)
            self._secret(project, c.params["secret"], location)
            key = self._secret_key(project, c.params["secret"], location)
            versions = list(reversed(self.secret_versions.get(key, [])))
            return {"versions": versions, "totalSize": len(versions)} if versions else {}

        @route("POST", api, base + "/secrets/{secret}:addVersion")
        def add_version(c: Call) -> JSON:
            project, location = place(c)
            payload = c.body.get("payload", {})
            check_payload(payload)
            version = self._add_version(
                project, c.params["secret"], payload.get("data", ""), location
            )
            if "dataCrc32c" in payload:  # gcloud checks this echo to detect corruption in transit
                version["clientSpecifiedPayloadChecksum"] = True
            return version

        @route("GET", api, base + "/secrets/{secret}:getIamPolicy")
        @route("POST", api, base + "/secrets/{secret}:getIamPolicy")
        def get_secret_policy(c: Call) -> JSON:
            project, location = place(c)
            return self._secret_policy(project, c.params["secret"], location).as_json()

        @route("POST", api, base + "/secrets/{secret}:setIamPolicy")
        def set_secret_policy(c: Call) -> JSON:
            project, location = place(c)
            policy = self._secret_policy(project, c.params["secret"], location)
            check_policy(c.body.get("policy", {}))
            return policy.replace(c.body.get("policy", {}))

        @route("GET", api, base + "/secrets")
        def list_secrets(c: Call) -> JSON:
            project, location = place(c)
            prefix = self._secret_key(project, "", location)
            found = [
                secret
                for key, secret in sorted(self.secrets.items())
                if key.startswith(prefix)
                and "/" not in key.removeprefix(prefix)
                and secret_matches_filter(secret, c.q("filter"))
            ]
            return {"secrets": found, "totalSize": len(found)} if found else {}

        @route("PATCH", api, base + "/secrets/{secret}")
        def update_secret(c: Call) -> JSON:
            project, location = place(c)
            secret = copy.deepcopy(self._secret(project, c.params["secret"], location))
            mask = c.q("updateMask") or ",".join(c.body)
            apply_mask(secret, c.body, mask)
            if secret.get("rotation") == {}:
                del secret["rotation"]
            if secret.get("topics") == []:
                del secret["topics"]
            if "labels" in secret:
                check_labels(secret["labels"])
            if location is not None and "replication" in secret:
                raise invalid("secret.replication", "A regional secret has no replication")
            fields = {part.strip() for part in mask.split(",")}
            check_secret_notifications(
                secret, new_next_rotation="rotation.next_rotation_time" in fields
            )
            secret["etag"] = f'"{next(self._ids)}"'
            self.secrets[secret["name"]] = secret
            return secret

    @staticmethod
    def _secret_key(project: str, secret_id: str, location: str | None = None) -> str:
        """The secret's name as Secret Manager returns it: with the project number, and the
        location for a regional secret (a regional and a global secret with the same id are two
        secrets)."""
        where = f"/locations/{location}" if location else ""
        return f"projects/{PROJECT_NUMBER}{where}/secrets/{secret_id}"

    def _secret(self, project: str, secret_id: str, location: str | None = None) -> JSON:
        key = self._secret_key(project, secret_id, location)
        if key not in self.secrets:
            raise not_found(f"Secret [{key}]")
        return self.secrets[key]

    def _location(self, location: str) -> JSON:
        """GetLocation: the Location of a served location; NOT_FOUND for any other."""
        if location not in self.served_locations:
            raise not_found(f"Location [projects/{PROJECT_NUMBER}/locations/{location}]")
        return {
            "name": f"projects/{PROJECT_NUMBER}/locations/{location}",
            "locationId": location,
            "displayName": location,
        }

    def _create_secret(
        self, project: str, secret_id: str, body: JSON, location: str | None = None
    ) -> JSON:
        key = self._secret_key(project, secret_id, location)
        if key in self.secrets:
            raise ApiError(409, f"Secret [{key}] already exists.")
        secret = {**copy.deepcopy(body), "name": key, "createTime": now(), "etag": '"1"'}
        self.secrets[key] = secret
        self.secret_versions[key] = []
        self.secret_policies[key] = IamPolicy()
        return secret

    def _add_version(
        self, project: str, secret_id: str, data: str, location: str | None = None
    ) -> JSON:
        key = self._secret_key(project, secret_id, location)
        self._secret(project, secret_id, location)
        versions = self.secret_versions[key]
        version: JSON = {
            "name": f"{key}/versions/{len(versions) + 1}",
            "state": "ENABLED",
            "createTime": now(),
            "etag": f'"{len(versions) + 1}"',
        }
        if location is None:  # a regional secret has no replication to report
            version["replicationStatus"] = {"automatic": {}}
        versions.append({**version, "payload": {"data": data}})
        return version

    def _secret_policy(
        self, project: str, secret_id: str, location: str | None = None
    ) -> IamPolicy:
        self._secret(project, secret_id, location)
        return self.secret_policies[self._secret_key(project, secret_id, location)]
