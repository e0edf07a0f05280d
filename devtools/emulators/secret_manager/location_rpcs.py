"""Locations: which locations are served, the endpoint check every SecretManagerService call
passes first, and the Locations mixin (``google.cloud.location.Locations`` GetLocation and
ListLocations, the client's ``get_location``/``list_locations``).

``served`` is the emulator's ``locations``: the locations Secret Manager serves (has a regional
endpoint for), or ``None`` for every well-formed location id. Rows of the rule table (its
sources and status codes: see the package docstring):

| rule | source | test |
|---|---|---|
| served locations: a SecretManagerService call whose name or parent is in a location not served (``locations``) is UNAVAILABLE, before any other check but the location id's form, and changes nothing | "Secret Manager locations" (one regional endpoint per supported location); PLATFORM.md [seen] (an unknown location has no endpoint: DNS fails, UNAVAILABLE) | test_a_location_not_served_is_unavailable_on_every_rpc, test_served_locations_can_be_changed_and_must_be_location_ids |
| unknown: the stand-in for "no endpoint": upstream the client fails DNS resolution and reaches no server; the emulator (one server for all endpoints) answers UNAVAILABLE on the name's location, and still counts and logs the call. A client's default retry retries UNAVAILABLE on AccessSecretVersion (up to 60 s). Hooks accept unserved locations (seeding) | (none) | test_a_location_not_served_is_unavailable_on_every_rpc |
| GetLocation (`projects/P/locations/L`) returns the Location (name with the project number, location_id) of a served location, NOT_FOUND for one not served; ListLocations (`projects/P`) lists the served locations by id, paginated | "Method: projects.locations.get" ("Gets information about a location", on the global endpoint); "Method: projects.locations.list" ("Lists information about the supported locations for this service"); "gcloud secrets locations describe"; AIP-131 (NOT_FOUND for a resource that does not exist) | test_get_location_answers_for_served_locations_only, test_list_locations_lists_the_served_locations_in_pages |
| unknown: the code for an unserved location, the Location's project (id or number), its other fields; ListLocations with every location served (``None``) lists the locations holding regional secrets; a ListLocations filter is INVALID_ARGUMENT | (none) | test_with_every_location_served_list_locations_lists_the_locations_in_use |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

from collections.abc import Set
from typing import Any

import grpc
from google.cloud.location import locations_pb2

from devtools.emulators.secret_manager import paging
from devtools.emulators.secret_manager.errors import EmulatorError, invalid, not_found
from devtools.emulators.secret_manager.names import (
    LOCATION_NAME,
    PROJECT_NAME,
    REGIONAL_PREFIX,
    check_location,
    request_resource,
)
from devtools.emulators.secret_manager.store import SecretStore


def serves(served: Set[str] | None, location: str) -> bool:
    return served is None or location in served


def check_reachable(served: Set[str] | None, request: Any) -> None:
    """Before a SecretManagerService RPC runs: a regional name must carry a well-formed
    location id (INVALID_ARGUMENT) for a location that is served. For one that is not, the
    real client's endpoint secretmanager.L.rep.googleapis.com does not resolve and the call
    fails UNAVAILABLE before reaching any server; the emulator answers the same."""
    resource = request_resource(request)
    match = REGIONAL_PREFIX.match(resource)
    if match is None:
        return
    location = match.group(1)
    check_location(location, resource)
    if not serves(served, location):
        raise EmulatorError(
            grpc.StatusCode.UNAVAILABLE,
            f"DNS resolution failed for secretmanager.{location}.rep.googleapis.com: Secret "
            f"Manager has no endpoint for location {location!r}.",
        )


def _location_message(project: str, location: str) -> Any:
    return locations_pb2.Location(
        name=f"projects/{project}/locations/{location}", location_id=location
    )


def get_location(store: SecretStore, served: Set[str] | None, request: Any) -> Any:
    project, location = store.names.parse(LOCATION_NAME, request.name, "location")
    if not serves(served, location):
        raise not_found(
            f"Location [{request.name}] not found: Secret Manager does not serve {location!r}."
        )
    return _location_message(project, location)


def list_locations(store: SecretStore, served: Set[str] | None, request: Any) -> Any:
    (project,) = store.names.parse(PROJECT_NAME, request.name, "project")
    if request.filter:
        raise invalid("the emulator cannot filter locations")
    size = paging.page_size(request.page_size)
    after = paging.decode_location_token(request.page_token)
    if served is None:
        # Every well-formed id is served, which cannot be listed: list those in use.
        with store.lock:
            served = frozenset(k.location for k in store.secrets if k.location is not None)
    ordered = sorted(loc for loc in served if after is None or loc > after)
    page, rest = ordered[:size], ordered[size:]
    return locations_pb2.ListLocationsResponse(
        locations=[_location_message(project, loc) for loc in page],
        next_page_token=paging.encode_location_token(page[-1]) if rest and page else "",
    )
