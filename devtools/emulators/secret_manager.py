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
* Every RPC holds callers to the documented rules in the table below. The test hooks
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

| rule | source | test |
|---|---|---|
| annotation key: 1-63 chars, begins and ends with [a-zA-Z0-9], only `-` `_` `.` and alphanumerics between (so no `/`); checked on CreateSecret and UpdateSecret | resources.py Secret.annotations | test_annotation_keys_follow_the_documented_pattern |
| annotation key at most 128 bytes of UTF-8 (cannot bite given the ASCII charset and 63 chars; checked anyway) | resources.py Secret.annotations | test_annotation_keys_follow_the_documented_pattern |
| unknown: whether "alphanumerics in between" includes non-ASCII; we read it as [a-zA-Z0-9] like the begin/end rule and refuse | resources.py Secret.annotations | test_annotation_keys_follow_the_documented_pattern[*-non-ascii-between] |
| annotation keys + values total "less than 16KiB": 16383 bytes pass, 16384 fail, counted in UTF-8 bytes (our reading of "size ... KiB") | resources.py Secret.annotations | test_annotations_total_less_than_16_kib |
| hooks seed annotations unchecked; RPCs writing them back are checked | this brief (seeding models upstream state) | test_seeded_legacy_annotation_keys_are_kept_but_cannot_be_written_back |
| unknown: whether fields outside update_mask are re-checked; we check only what the request writes | (none) | test_fields_outside_the_mask_are_not_rechecked |
| label key: 1-63 chars, at most 128 bytes, `[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}` | resources.py Secret.labels | test_label_keys_follow_the_documented_pattern |
| label value: 0-63 chars, at most 128 bytes, `[\p{Ll}\p{Lo}\p{N}_-]{0,63}` | resources.py Secret.labels | test_label_values_follow_the_documented_pattern |
| at most 64 labels | resources.py Secret.labels | test_at_most_64_labels |
| secret_id: required, at most 255 letters, numerals, `-`, `_` | service.py CreateSecretRequest.secret_id | test_secret_ids_are_up_to_255_letters_numerals_hyphens_underscores |
| unknown: whether non-ASCII letters count in secret_id; we accept ASCII only | service.py CreateSecretRequest.secret_id | test_secret_ids_are_up_to_255_letters_numerals_hyphens_underscores |
| payload data at most 64KiB (65536 bytes pass, 65537 fail) | resources.py SecretPayload.data; "Secret Manager quotas and limits" | test_payloads_up_to_64_kib_are_accepted |
| data_crc32c, when sent, is verified and recorded as client_specified_payload_checksum | resources.py SecretPayload.data_crc32c; "Data integrity assurance" | test_wrong_crc32c_is_rejected_and_adds_nothing, test_correct_crc32c_is_accepted_and_recorded |
| unknown: status code of a data_crc32c mismatch; we answer INVALID_ARGUMENT and add nothing | (none) | test_wrong_crc32c_is_rejected_and_adds_nothing |
| unknown: empty payload; we accept it | (none) | test_an_empty_payload_is_accepted |
| etag mismatch on UpdateSecret, DeleteSecret, Enable/Disable/DestroySecretVersion is FAILED_PRECONDITION | "Use entity tags for optimistic concurrency control"; service.py *Request.etag | test_update_secret_with_a_stale_etag_is_failed_precondition, test_delete_secret_with_a_stale_etag_is_failed_precondition, test_state_change_with_a_stale_etag_is_failed_precondition |
| an omitted etag skips the check | "Use entity tags for optimistic concurrency control"; service.py *Request.etag | test_update_secret_changes_the_etag, test_each_state_change_gives_a_new_etag |
| every successful update gets a new etag, even one that changes nothing | "Use entity tags for optimistic concurrency control" | test_updates_that_change_nothing_still_get_a_new_etag, test_enabling_an_enabled_version_gets_a_new_etag |
| a version change (add included) leaves the secret's etag alone, and vice versa | "Use entity tags for optimistic concurrency control" | test_version_changes_leave_the_secret_etag_alone, test_secret_updates_leave_version_etags_alone |
| etag-mismatch message wording is not contract: the default avoids "etag", `set_precondition_message` replaces it | "Use entity tags for optimistic concurrency control" (names the code only) | test_the_default_precondition_message_does_not_mention_etags, test_set_precondition_message_replaces_every_etag_mismatch_message |
| unknown: malformed (e.g. unquoted) etag; anything but the current etag is FAILED_PRECONDITION | (none) | test_any_etag_but_the_current_one_is_failed_precondition |
| DESTROYED is final | resources.py SecretVersion.State.DESTROYED | test_destroyed_versions_cannot_change_state |
| unknown: status code for that, and destroying again; we answer FAILED_PRECONDITION | (none) | test_destroyed_versions_cannot_change_state |
| accessing a version that is not ENABLED is FAILED_PRECONDITION, with the message "Secret Version [NAME] is in STATE state." (a version scheduled for destruction is DISABLED) | resources.py SecretVersion.State; code as observed (PLATFORM.md, [ran]); a DESTROYED version's answer as observed in google-github-actions/get-secretmanager-secrets#268 (400 FAILED_PRECONDITION "Secret Version [.../versions/4] is in DESTROYED state.") | test_accessing_a_version_that_is_not_enabled_is_failed_precondition |
| DestroySecretVersion without delayed destruction: the version is DESTROYED at once, its payload gone (hook `payload` answers None) and `destroy_time` set to the emulator clock's now; only a DESTROYED version carries `destroy_time` | resources.py SecretVersion.State.DESTROYED ("the secret data is no longer stored"), SecretVersion.destroy_time ("Only present if state is DESTROYED"); the client's destroy_secret_version ("irrevocably destroys the secret data") | test_destroy_clears_the_payload_and_sets_destroy_time |
| Secret.version_destroy_ttl is 0s (no delay) or at least 24h; checked on CreateSecret, and on UpdateSecret when the mask names it; a masked version_destroy_ttl left unset removes it; GetSecret returns it | resources.py Secret.version_destroy_ttl ("For secret with TTL>0, version destruction doesn't happen immediately"); Google's Terraform text for regional secrets, magic-modules RegionalSecret.yaml ("It must be atleast 24h"); python-docs-samples disable_secret_with_delayed_destroy.py (mask `version_destroy_ttl` with the field unset: "Disabled delayed destroy"); AIP-134 | test_version_destroy_ttl_is_0s_or_at_least_24h, test_update_secret_sets_or_removes_the_version_destroy_ttl |
| unknown: the bounds of version_destroy_ttl: the Secret Manager pages I could read give none, the 24h minimum is written for regional secrets only, and no maximum is written anywhere; we apply 24h to both kinds, accept any maximum and fractions of a second, and take 0s as no delay (kept and returned as sent) | (none) | test_version_destroy_ttl_is_0s_or_at_least_24h, test_a_0s_version_destroy_ttl_is_kept_and_destroys_at_once |
| with version_destroy_ttl above 0, DestroySecretVersion disables the version (an ENABLED one too), keeps its payload, sets `scheduled_destroy_time` to now + ttl (emulator clock) and no `destroy_time`, and answers the version in that state; GetSecretVersion and ListSecretVersions return `scheduled_destroy_time`; global and regional secrets alike | resources.py Secret.version_destroy_ttl ("the version goes to a disabled state and destruction happens after the TTL expires"), SecretVersion.scheduled_destroy_time; "Delay destruction of secret versions" ("The version is disabled, preventing its use"; "The system schedules the version for permanent destruction at the end of the delay period"); "Delay destruction of regional secret versions" | test_with_a_version_destroy_ttl_destroy_schedules_the_version |
| a scheduled version is destroyed once the emulator clock is past its `scheduled_destroy_time`: DESTROYED (final), payload gone, access FAILED_PRECONDITION | resources.py SecretVersion.scheduled_destroy_time ("Version is destroyed only after the scheduled_destroy_time"); "Delay destruction of secret versions" ("After the delay period expires, the secret version is permanently and irrevocably destroyed") | test_a_scheduled_version_is_destroyed_once_its_time_has_passed |
| unknown: how soon after that time the service destroys, and what the destroyed version carries; we destroy on the first access after it (lazily, like expiry), with `destroy_time` = `scheduled_destroy_time`, `scheduled_destroy_time` kept, and a new etag | (none) | test_a_scheduled_version_is_destroyed_once_its_time_has_passed |
| enabling or disabling a version scheduled for destruction cancels the schedule (`scheduled_destroy_time` cleared, payload kept) | "Delay destruction of secret versions" ("cancel the scheduled destruction and restore the secret version by either enabling or disabling the secret version") | test_enabling_or_disabling_a_scheduled_version_cancels_the_schedule |
| unknown: DestroySecretVersion of a version already scheduled; we keep its schedule (neither sooner nor later, whatever the secret's ttl is now), change nothing but its etag, and answer it | (none) | test_destroying_a_scheduled_version_again_keeps_its_schedule |
| unknown: whether changing or removing the secret's version_destroy_ttl touches versions already scheduled ("Delay destruction of secret versions" covers updating and removing the duration, but not in the parts I could read); we leave their schedules as they are, and a later destroy uses the ttl of that moment | (none) | test_changing_the_version_destroy_ttl_leaves_scheduled_versions_alone |
| a ListSecretVersions state filter sees a scheduled version as DISABLED (DESTROYED once its time has passed), so `NOT state:DESTROYED`, `state!=DESTROYED` and `state:ENABLED OR state:DISABLED` list every version but the destroyed ones in one call, scheduled ones with their `scheduled_destroy_time` | resources.py SecretVersion.scheduled_destroy_time; "Delay destruction of secret versions" (a scheduled version is disabled); AIP-160 (NOT, OR) | test_listing_every_version_but_the_destroyed_ones_shows_scheduled_ones |
| hooks: `add_version(..., state="DISABLED", scheduled_destroy_time=T)` seeds a version already scheduled (a T already past destroys it on the next access); `set_version_destroy_ttl(secret, ttl)` sets, or with None removes, the ttl unchecked, etag unchanged | this brief (seeding models upstream state) | test_hooks_seed_scheduled_versions_and_the_version_destroy_ttl |
| `latest` is the most recently created version, whatever its state | service.py GetSecretVersionRequest.name, AccessSecretVersionRequest.name | test_latest_is_the_newest_version_whatever_its_state |
| version aliases resolve on GetSecretVersion and AccessSecretVersion; GetSecret returns them | resources.py Secret.version_aliases | test_version_aliases_resolve, test_get_secret_returns_version_aliases_and_get_version_resolves_them |
| Enable/Disable/DestroySecretVersion do not take an alias | resources.py Secret.version_aliases ("only ... GetSecretVersion and AccessSecretVersion") | test_state_changes_take_version_numbers_only |
| unknown: the status code for that, and whether they take `latest`; we refuse both with INVALID_ARGUMENT | (none) | test_state_changes_take_version_numbers_only |
| alias name: at most 63 letters, numerals, `-`, `_`, starting with a letter; not latest or new (case-insensitive) | resources.py Secret.version_aliases ('latest', 'NEW'); "Assign an alias to a secret version" (case-insensitive) | test_version_alias_names_follow_the_documented_pattern |
| at most 50 aliases | resources.py Secret.version_aliases; "Secret Manager quotas and limits" | test_at_most_50_version_aliases |
| unknown: alias naming a version that does not exist; we refuse (INVALID_ARGUMENT), so CreateSecret refuses any alias | (none) | test_a_version_alias_must_name_an_existing_version, test_version_aliases_are_refused_on_create_as_no_version_exists |
| unknown: alias naming a DESTROYED version; we allow it | (none) | test_a_version_alias_may_name_a_destroyed_version |
| page_size 0: the server decides (we pick 25000) | service.py List*Request.page_size | test_list_secret_versions_page_size_is_capped_at_25000[0] |
| page_size above 25000 is capped at 25000 | service.py List*Request.page_size | test_list_secret_versions_page_size_is_capped_at_25000, test_list_secrets_page_size_is_capped_at_25000 |
| negative page_size is INVALID_ARGUMENT (Secret Manager is silent) | AIP-158 | test_a_negative_page_size_is_invalid_argument |
| lists are sorted in reverse by create_time (newest first) | service.py ListSecretsResponse.secrets, ListSecretVersionsResponse.versions | test_list_secrets_is_newest_first_across_pages, test_versions_are_listed_by_create_time_newest_first |
| unknown: order among equal create times; we list the newest created first | (none) | test_equal_create_times_list_the_newest_created_first |
| update_mask is required | service.py UpdateSecretRequest.update_mask | test_update_mask_is_required |
| updatable paths: labels, topics, expire_time, ttl, rotation, version_aliases, annotations, version_destroy_ttl, customer_managed_encryption | resources.proto field_behavior (neither OUTPUT_ONLY nor IMMUTABLE); Secret.version_aliases ("modifiable via UpdateSecret") | test_every_mutable_field_can_be_updated |
| output only paths (name, create_time, policy_member) in the mask are ignored | AIP-161, AIP-203 (OUTPUT_ONLY) | test_output_only_paths_in_the_mask_are_ignored |
| immutable paths (replication, tags, secret_type): an unchanged value is ignored, a change is INVALID_ARGUMENT | resources.proto IMMUTABLE; AIP-203 | test_immutable_replication_cannot_change |
| unknown: paths naming no field, map entries, subfields, `*`, `etag`; we refuse all with INVALID_ARGUMENT | AIP-161 ("should" refuse paths to values that cannot exist; entries and wildcards are "may") | test_update_mask_paths_that_name_no_updatable_field_are_invalid |
| topics: at most 10, each `projects/*/topics/*` | resources.py Secret.topics, Topic.name; "Set up notifications on a secret" | test_topics_are_up_to_10_names_of_the_form_projects_topics |
| next_rotation_time at least 300s and at most 3153600000s in the future (emulator clock) | resources.py Rotation.next_rotation_time | test_next_rotation_time_is_300s_to_100_years_ahead |
| rotation_period in whole seconds, 3600s to 3153600000s | resources.py Rotation.rotation_period | test_rotation_period_is_whole_seconds_from_1h_to_100_years |
| rotation_period needs next_rotation_time | resources.py Rotation.next_rotation_time, Rotation.rotation_period | test_rotation_period_needs_next_rotation_time |
| topics must be set to configure rotation (checked when rotation is written, against the resulting topics) | resources.py Rotation; "Create rotation schedules" | test_rotation_needs_topics, test_rotation_can_be_set_by_update_when_the_secret_has_topics |
| unknown: removing the topics of a secret that has a rotation; we allow it | (none) | test_topics_can_be_removed_from_a_secret_with_a_rotation |
| input only fields (rotation_period, ttl, tags) are not returned; ttl sets expire_time | resources.proto INPUT_ONLY; resources.py Secret.expire_time ("always provided on output") | test_input_only_fields_are_not_returned |
| at next_rotation_time, SECRET_ROTATE is published to each topic (attributes eventType, secretId with the project number, dataFormat; data the Secret as JSON), and next_rotation_time is advanced by rotation_period (test hook `publish_due_rotations`, by the emulator clock) | resources.py Rotation ("At next_rotation_time, Secret Manager will send a Pub/Sub notification to the topics configured on the Secret"), Rotation.rotation_period ("next_rotation_time will be advanced by this period when the service automatically sends rotation notifications"); "Set up notifications on a secret" (attributes) | test_due_rotations_are_published_and_next_rotation_time_advances |
| unknown: a rotation without rotation_period after its one notification; we clear next_rotation_time | (none) | test_due_rotations_are_published_and_next_rotation_time_advances |
| expiration (expire_time, or ttl counted from the request on the emulator clock) at least 60 s and at most 100 years away; checked on CreateSecret, and on UpdateSecret when the mask names expire_time or ttl; GetSecret returns the expire_time | "Set an expiration date for a secret" ("A secret's expiration cannot be less than 60 seconds away or more than 100 years away"; "the expiration is always returned as a timestamp, regardless of how it was given") | test_an_expiration_is_60_seconds_to_100_years_away |
| unknown: how long "100 years" is, and whether the bounds are inclusive; we take Rotation's 3153600000 s and accept both bounds | "Set an expiration date for a secret" (gives no count) | test_an_expiration_is_60_seconds_to_100_years_away[*-60s, *-100-years] |
| UpdateSecret changes or removes the expiration: the masked member the request sets replaces it, a masked member left unset removes it | "Set an expiration date for a secret" ("An expiration can be added, updated, or removed from a secret at any time"); AIP-134 (a masked field left unset is cleared) | test_update_secret_changes_or_removes_the_expiration |
| unknown: a mask naming expire_time while the request sets ttl (or the reverse); we ignore the unmasked member, so the expiration is removed | AIP-134 (fields outside the mask are ignored) | test_update_secret_changes_or_removes_the_expiration[unmasked-member] |
| at its expire_time a secret is deleted with all its versions: every RPC on it is NOT_FOUND, ListSecrets leaves it out (and out of total_size), and its id can be created anew, without the old versions | "Set an expiration date for a secret" ("At a secret's configured expiration time, it is automatically deleted"; "When a secret expires in Secret Manager, it is irreversibly deleted"); googleapis resources.proto, oneof expiration ("the Secret and all SecretVersions will be automatically deleted at expiration") | test_at_its_expire_time_a_secret_is_deleted_with_its_versions, test_list_secrets_leaves_out_expired_secrets, test_an_expired_secret_id_can_be_created_again_without_the_old_versions |
| unknown: how soon after expire_time the service deletes; we delete at that instant (lazily, on the first access at or after it) | (none) | test_at_its_expire_time_a_secret_is_deleted_with_its_versions |
| AddSecretVersion and UpdateSecret: at most 2 per second and 120 per minute per secret (global secrets); over it the call is RESOURCE_EXHAUSTED and changes nothing; other secrets are unaffected | "Secret Manager quotas and limits" ("2 requests per second (2 qps) per secret, and 120 requests per minute (120 qpm) per secret"); "Troubleshoot quota errors" ("If you exceeded a quota value using gRPC, Google Cloud returns a ResourceExhausted error") | test_write_rate_limits_apply_per_secret_and_per_version[add-*, update-*, other-secrets-*], test_a_write_over_the_rate_limit_changes_nothing |
| Enable/Disable/DestroySecretVersion: at most 1 per second and 60 per minute per secret version, so a sweep over many versions of one secret is not limited but one version changed twice within a second is | "Secret Manager quotas and limits" ("1 request per second (1 qps) per secret version, and 60 requests per minute (60 qpm) per secret version"); "Troubleshoot quota errors" | test_write_rate_limits_apply_per_secret_and_per_version[one-version-*, a-sweep-*, version-changes-*], test_concurrent_changes_to_one_version_are_counted_one_at_a_time |
| a destroy counts against that per-version limit whether it destroys the version or schedules its destruction; a scheduled destruction coming due is no call and counts nothing | "Secret Manager quotas and limits" (DestroySecretVersion is in that row) | test_write_rate_limits_apply_per_secret_and_per_version[enable-disable-destroy-share-one-budget], test_scheduling_destroys_count_against_the_version_limit |
| reads (GetSecret, ListSecretVersions, AccessSecretVersion, ...), CreateSecret and DeleteSecret have no per-resource rate limit | "Secret Manager quotas and limits" (its per-resource limits name only the calls above; the per-project quotas are not emulated) | test_write_rate_limits_apply_per_secret_and_per_version[reads-are-not-limited] |
| unknown: whether AddSecretVersion and UpdateSecret share one budget, and Enable/Disable/Destroy another; we read each table row as one shared budget | "Secret Manager quotas and limits" (one row per group) | test_write_rate_limits_apply_per_secret_and_per_version[*-share-one-budget] |
| unknown: how the limits are counted; we use sliding 1 s and 60 s windows, under which a steady 2 per second passes and the per-minute limit never binds first | (none) | test_write_rate_limits_apply_per_secret_and_per_version[add-2-per-second-per-secret, a-steady-2-per-second-for-a-minute-passes] |
| unknown: which calls count; every call admitted once its secret or version is found, whatever happens next; not those refused before (arguments checked before the lookup, NOT_FOUND) nor RESOURCE_EXHAUSTED ones | (none) | test_write_rate_limits_apply_per_secret_and_per_version[refused-calls-do-not-count] |
| unknown: the limits are "soft-enforced" ("allows us to continue serving requests beyond their quota as long as our backend systems can handle the load"); we always refuse, the case callers must survive | "Secret Manager quotas and limits" | test_a_write_over_the_rate_limit_changes_nothing |
| rate limits are on by default; `rate_limits=False` (constructor or attribute) turns them off; test hooks are never counted | this brief | test_rate_limits_are_on_by_default_and_can_be_switched_off, test_write_rate_limits_apply_per_secret_and_per_version (seeded by hooks) |
| regional names on every RPC: `projects/P/locations/L/secrets/S[/versions/V]`, and `projects/P/locations/L` as the CreateSecret/ListSecrets parent; every returned name keeps the location and uses the project NUMBER | service.py *Request.name/parent ("``projects/*/locations/*/secrets/*``", "``projects/*`` or ``projects/*/locations/*``"); "REST Resource: projects.locations.secrets" ("The resource name of the Secret in the format projects/*/locations/*/secrets/*") | test_regional_names_work_on_every_rpc_and_come_back_with_the_project_number |
| unknown: whether regional names come back with the project number (documented, PLATFORM.md, for global names only); we use the number, as for global names | (none) | test_regional_names_work_on_every_rpc_and_come_back_with_the_project_number |
| a regional secret and a global one with the same id, or two locations' secrets with the same id, are different secrets: the location in a name decides which one a call reaches, and deleting one leaves the others | "REST Resource: projects.locations.secrets" (the location is part of the name); "Secret Manager locations" ("Regional endpoints are request endpoints that only allow requests to proceed if the affected resource exists in the location specified by the endpoint") | test_the_location_in_a_name_decides_which_secret_a_call_reaches |
| unknown: service.py CreateSecretRequest.secret_id says "This must be unique within the project" (text older than regional secrets); we read it as unique within its location, so the same id may be created globally and in each location | service.py CreateSecretRequest.secret_id | test_the_location_in_a_name_decides_which_secret_a_call_reaches |
| location id: 1-63 lowercase letters, digits and `-`, starting with a letter, ending with a letter or digit; otherwise INVALID_ARGUMENT naming the location, on every RPC before any other check (and on hooks and GetLocation) | AIP-122 ("should conform to RFC-1034 ... letters, numbers, and hyphen, with the first character a letter, the last a letter or a number, and a 63 character maximum ... restrict letters to lower-case"); the id is a DNS label of `secretmanager.L.rep.googleapis.com` ("Secret Manager locations") | test_location_ids_are_lowercase_dns_labels, test_every_rpc_names_a_bad_location_before_any_other_check, test_hooks_refuse_a_bad_location |
| unknown: Secret Manager documents no form for location ids (its pages show `us-central1`, `me-central2`, ...), nor the status code; we apply AIP-122's form and answer INVALID_ARGUMENT (upstream a malformed id would rather give a host that does not resolve) | (none) | test_location_ids_are_lowercase_dns_labels |
| ListSecrets is per location: parent `projects/P/locations/L` lists that location's secrets only (total_size too) | "List regional secrets and view secret details" (`gcloud secrets list --location=LOCATION`); service.py ListSecretsRequest.parent | test_list_secrets_is_per_location |
| unknown: whether parent `projects/P` also lists regional secrets; we list the global ones only (the global endpoint refuses regional names: googleapis/google-cloud-python#13389) | (none) | test_list_secrets_is_per_location |
| a regional secret has no replication: CreateSecret of one with `replication` set is INVALID_ARGUMENT; it is returned without replication (and, as immutable, UpdateSecret cannot add one) | "REST Resource: projects.locations.secrets" (its JSON representation has no replication field) | test_regional_secrets_have_no_replication |
| unknown: whether upstream refuses or ignores a replication sent for a regional secret, and whether its versions report a replication_status; we refuse (INVALID_ARGUMENT) and report none | (none) | test_regional_secrets_have_no_replication |
| a regional secret's customer_managed_encryption key must be in the secret's location (CreateSecret, UpdateSecret) | "Add CMEK encryption to regional secrets" ("The location of the CMEK key must be the same as the location of the regional secret.") | test_a_regional_cmek_key_must_be_in_the_secrets_location |
| every other rule in this table applies to regional secrets as to global ones (versions, etags, annotations, labels, version aliases, expiration, topics, rotation, version_destroy_ttl) | "REST Resource: projects.locations.secrets" (the same fields, with the same rules); the regional-secrets pages "Create rotation schedules", "Set up notifications on a secret", "Delay destruction of regional secret versions" | test_regional_secrets_follow_the_same_field_rules |
| regional rate limits, by the secret's kind: AddSecretVersion and UpdateSecret at most 80 per second and 4800 per minute per secret; Enable/Disable/DestroySecretVersion at most 50 per second and 3000 per minute per version; a global secret with the same id keeps the global limits | "Secret Manager quotas and limits" ("80 requests per second (80 qps) per secret per region, and 4800 requests per minute (4800 qpm) per secret per region"; "50 requests per second (50 qps) per secret version per region, and 3000 requests per minute (3000 qpm) per secret version per region") | test_regional_secrets_have_their_own_rate_limits |
| served locations: a SecretManagerService call whose name or parent is in a location not served (``locations``) is UNAVAILABLE, before any other check but the location id's form, and changes nothing | "Secret Manager locations" (one regional endpoint per supported location); PLATFORM.md [seen] (an unknown location has no endpoint: DNS fails, UNAVAILABLE) | test_a_location_not_served_is_unavailable_on_every_rpc, test_served_locations_can_be_changed_and_must_be_location_ids |
| unknown: the stand-in for "no endpoint": upstream the client fails DNS resolution and reaches no server; the emulator (one server for all endpoints) answers UNAVAILABLE on the name's location, and still counts and logs the call. A client's default retry retries UNAVAILABLE on AccessSecretVersion (up to 60 s). Hooks accept unserved locations (seeding) | (none) | test_a_location_not_served_is_unavailable_on_every_rpc |
| GetLocation (`projects/P/locations/L`) returns the Location (name with the project number, location_id) of a served location, NOT_FOUND for one not served; ListLocations (`projects/P`) lists the served locations by id, paginated | "Method: projects.locations.get" ("Gets information about a location", on the global endpoint); "Method: projects.locations.list" ("Lists information about the supported locations for this service"); "gcloud secrets locations describe"; AIP-131 (NOT_FOUND for a resource that does not exist) | test_get_location_answers_for_served_locations_only, test_list_locations_lists_the_served_locations_in_pages |
| unknown: the code for an unserved location, the Location's project (id or number), its other fields; ListLocations with every location served (``None``) lists the locations holding regional secrets; a ListLocations filter is INVALID_ARGUMENT | (none) | test_with_every_location_served_list_locations_lists_the_locations_in_use |
| SECRET_ROTATE for a regional secret (hook `publish_due_rotations`) carries its regional name, with the project number, as secretId | "Create rotation schedules" (regional-secrets: "Secret Manager triggers a SECRET_ROTATE message to the designated Pub/Sub topics at the secret's next_rotation_time"); "Set up notifications on a secret" (secretId: "The full resource name of the secret where the event occurred") | test_due_rotations_of_regional_secrets_carry_the_regional_name |
| test hooks take regional names (a well-formed location, served or not); `create_secret(kms_key_name=...)` sets a regional secret's own CMEK key | this brief | test_hooks_take_regional_names |
| kms_key_name: required, `projects/*/locations/*/keyRings/*/cryptoKeys/*`; for automatic replication in `global`, for a user-managed replica in the replica's location; checked on CreateSecret, and on UpdateSecret for customer_managed_encryption | resources.py CustomerManagedEncryption.kms_key_name | test_replication_cmek_keys_are_crypto_keys_in_the_data_location, test_customer_managed_encryption_names_a_crypto_key |
| unknown: Secret.customer_managed_encryption is documented for regionalized secrets; on a global secret we check its format only, store it, and encrypt new versions with it too | resources.py Secret.customer_managed_encryption | test_customer_managed_encryption_names_a_crypto_key, test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled[secret] |
| a CMEK key made unusable (disabled or destroyed; hook `set_kms_key_enabled`) fails AccessSecretVersion of every version it encrypted, with a message naming the key; GetSecretVersion and ListSecretVersions still show the version ENABLED | "Enable customer-managed encryption keys (CMEK) for Secret Manager" ("If you temporarily disable or permanently destroy the CMEK key, the data encrypted with that key cannot be decrypted and therefore is unaccessible") | test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled |
| unknown: the status code of that; we answer FAILED_PRECONDITION (google.rpc.Code: "the system is not in a state required for the operation's execution"), after the version-state check | (none) | test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled |
| unknown: a version whose replicas use several keys; access fails while any of them is unusable | (none) | test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled[one-of-two-replicas] |
| making the key usable again restores access | "Enable and disable key versions" (Cloud KMS: "During the time that a key is disabled, data that was encrypted with the key can't be accessed. To access the data, you can re-enable the key version.") | test_enabling_the_cmek_key_again_restores_access |
| a change of CMEK key applies only to versions added afterwards | resources.py Secret.customer_managed_encryption and Replication.*.customer_managed_encryption ("They do not apply retroactively to existing SecretVersions") | test_a_cmek_change_applies_only_to_versions_added_afterwards |
| unknown: AddSecretVersion while the secret's CMEK key is unusable; we accept it (the docs speak only of decrypting) | (none) | test_versions_can_be_added_under_an_unusable_cmek_key |

Not emulated: IAM and authentication (any caller may do anything); the per-project request
quotas (access, read and write requests per minute; inject RESOURCE_EXHAUSTED with
``inject_fault``): of the quotas, only the per-secret and per-version write rate limits above
are enforced; separate endpoints (one server answers for all; see the endpoint rows above);
Cloud KMS itself (a key is usable or not as a whole: no key versions, key IAM or propagation
delay) and the CMEK status a SecretVersion reports (``kms_key_version_name``); notifications to
Pub/Sub topics, except SECRET_ROTATE through the ``publish_due_rotations`` hook (SECRET_DELETE on
expiry, SECRET_VERSION_DESTROY_SCHEDULED and the other events are never published); the
REST/HTTP surface, and persistence. tags and secret_type are stored as sent, without checks (the
product does not use them).
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import hashlib
import itertools
import operator
import re
import secrets
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import google_crc32c
import grpc
from google.cloud import secretmanager_v1
from google.cloud.location import locations_pb2
from google.protobuf import empty_pb2, field_mask_pb2

from devtools.emulators._server import (
    EmulatorServer,
    StatusError,
    argument_parser,
    serve_until_signalled,
)

__all__ = [
    "EmulatorError",
    "FilterError",
    "RateLimit",
    "SecretManagerEmulator",
    "is_location_id",
    "main",
    "project_number",
]

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
# The Locations mixin the Secret Manager client exposes as get_location/list_locations.
LOCATIONS_SERVICE = "google.cloud.location.Locations"
MAX_PAYLOAD_BYTES = 65536
MAX_PAGE_SIZE = 25000
STATES = ("ENABLED", "DISABLED", "DESTROYED")
RPC_NAMES = (
    "CreateSecret",
    "GetSecret",
    "UpdateSecret",
    "DeleteSecret",
    "ListSecrets",
    "AddSecretVersion",
    "GetSecretVersion",
    "AccessSecretVersion",
    "ListSecretVersions",
    "EnableSecretVersion",
    "DisableSecretVersion",
    "DestroySecretVersion",
    "GetLocation",
    "ListLocations",
)

_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
# Names of global (projects/P/...) and regional (projects/P/locations/L/...) resources. The
# location group is None for a global name; its form is checked apart (_LOCATION_ID), so that
# the error can say the location is what is wrong.
_PARENT_NAME = re.compile(r"projects/([^/]+)(?:/locations/([^/]+))?")
_SECRET_NAME = re.compile(r"projects/([^/]+)(?:/locations/([^/]+))?/secrets/([^/]+)")
_VERSION_NAME = re.compile(
    r"projects/([^/]+)(?:/locations/([^/]+))?/secrets/([^/]+)/versions/([^/]+)"
)
_PROJECT_NAME = re.compile(r"projects/([^/]+)")
_LOCATION_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)")
# The location of any regional name, for the endpoint check made before an RPC runs.
_REGIONAL_PREFIX = re.compile(r"projects/[^/]+/locations/([^/]+)(?:/|$)")
# Location ids: Secret Manager documents no form. AIP-122's form for resource ID segments
# (RFC 1034: lowercase letters, digits and '-', first a letter, last a letter or digit, at most
# 63 characters), which also makes secretmanager.L.rep.googleapis.com a valid host name.
_LOCATION_ID = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
# The name patterns whose second group is a location.
_LOCATED_NAMES = (_PARENT_NAME, _SECRET_NAME, _VERSION_NAME, _LOCATION_NAME)

# Secret.annotations: keys 1-63 characters, at most 128 bytes of UTF-8, begin and end with
# [a-z0-9A-Z], only dashes, underscores, dots and alphanumerics between; keys and values
# together less than 16KiB.
ANNOTATION_KEY_MAX_CHARS = 63
ANNOTATION_KEY_MAX_BYTES = 128
ANNOTATIONS_SIZE_LIMIT = 16 * 1024  # the total must be LESS than this
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# Secret.labels: PCRE [\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62} for keys and
# [\p{Ll}\p{Lo}\p{N}_-]{0,63} for values, each at most 128 bytes; at most 64 labels.
LABEL_MAX_CHARS = 63
LABEL_MAX_BYTES = 128
MAX_LABELS = 64
_LABEL_FIRST_CATEGORIES = frozenset({"Ll", "Lo"})
_LABEL_CATEGORIES = frozenset({"Ll", "Lo", "Nd", "Nl", "No"})  # \p{N} is Nd, Nl and No
# Secret.version_aliases: up to 63 letters, numerals, '-' and '_', starting with a letter; not
# 'latest' or 'NEW' (the "assign an alias" page: Latest or New, case-insensitive); at most 50.
MAX_VERSION_ALIASES = 50
_VERSION_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
_RESERVED_ALIASES = frozenset({"latest", "new"})
# Secret.topics: up to 10, each projects/*/topics/*.
MAX_TOPICS = 10
_TOPIC_NAME = re.compile(r"projects/[^/]+/topics/[^/]+")
# Rotation: next_rotation_time 300 s to 3153600000 s ahead; rotation_period whole seconds,
# 3600 s to 3153600000 s.
MIN_ROTATION_LEAD = timedelta(seconds=300)
MAX_ROTATION_SECONDS = 3153600000
MIN_ROTATION_PERIOD_SECONDS = 3600
# Expiration ("Set an expiration date for a secret"): "cannot be less than 60 seconds away or more
# than 100 years away". 100 years as Rotation counts them (3153600000 s); the page gives no count.
MIN_EXPIRATION_LEAD = timedelta(seconds=60)
MAX_EXPIRATION_LEAD = timedelta(seconds=MAX_ROTATION_SECONDS)
# Secret.version_destroy_ttl: "For secret with TTL>0, version destruction doesn't happen
# immediately" (resources.py), so 0 means no delay. Google's Terraform text for the field
# (magic-modules RegionalSecret.yaml) adds "It must be atleast 24h"; no maximum is documented.
MIN_VERSION_DESTROY_TTL = timedelta(hours=24)
# CustomerManagedEncryption.kms_key_name: projects/*/locations/*/keyRings/*/cryptoKeys/*; in
# ``global`` for automatic replication, in the replica's location for user-managed replication.
_KMS_KEY_NAME = re.compile(r"projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+")

# UpdateSecret update_mask paths, by the field's documented behaviour (google.api.field_behavior
# in resources.proto). Updatable: every field that is neither output only nor immutable.
_UPDATABLE_SECRET_FIELDS = frozenset(
    {
        "labels",
        "topics",
        "expire_time",
        "ttl",
        "rotation",
        "version_aliases",
        "annotations",
        "version_destroy_ttl",
        "customer_managed_encryption",
    }
)
_EXPIRATION_FIELDS = frozenset({"expire_time", "ttl"})  # the oneof ``expiration``
# AIP-161/AIP-203: output only paths in an update mask are ignored.
_OUTPUT_ONLY_SECRET_FIELDS = frozenset({"name", "create_time", "policy_member"})
# AIP-203: an immutable field in the mask is ignored if unchanged, INVALID_ARGUMENT if changed.
_IMMUTABLE_SECRET_FIELDS = frozenset({"replication", "tags", "secret_type"})

_DEFAULT_PRECONDITION_MESSAGE = (
    "{resource} has been modified since the copy this request was based on was read."
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What each write rate limit covers, for RESOURCE_EXHAUSTED messages.
_SECRET_WRITES = "AddSecretVersion and UpdateSecret on Secret [{}]"
_VERSION_STATE_CHANGES = "Enable/Disable/DestroySecretVersion on Secret Version [{}]"

_State = str  # one of STATES; kept as text because the test hooks speak text
T = TypeVar("T")


class EmulatorError(StatusError):
    """A failure with a gRPC status; RPCs turn it into that status, test hooks raise it."""

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def _invalid(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _not_found(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.NOT_FOUND, message)


def _precondition(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.FAILED_PRECONDITION, message)


@dataclass(frozen=True)
class RateLimit:
    """At most ``per_second`` calls in any one second and ``per_minute`` in any one minute."""

    per_second: int
    per_minute: int


# "Secret Manager quotas and limits", global secrets. AddSecretVersion and UpdateSecret: "2
# requests per second (2 qps) per secret, and 120 requests per minute (120 qpm) per secret".
# Enable/Disable/DestroySecretVersion: "1 request per second (1 qps) per secret version, and 60
# requests per minute (60 qpm) per secret version".
SECRET_WRITE_LIMIT = RateLimit(per_second=2, per_minute=120)
VERSION_STATE_LIMIT = RateLimit(per_second=1, per_minute=60)
# The same page, regional secrets. AddSecretVersion and UpdateSecret: "80 requests per second (80
# qps) per secret per region, and 4800 requests per minute (4800 qpm) per secret per region".
# Enable/Disable/DestroySecretVersion: "50 requests per second (50 qps) per secret version per
# region, and 3000 requests per minute (3000 qpm) per secret version per region".
REGIONAL_SECRET_WRITE_LIMIT = RateLimit(per_second=80, per_minute=4800)
REGIONAL_VERSION_STATE_LIMIT = RateLimit(per_second=50, per_minute=3000)


def is_location_id(location: str) -> bool:
    """Whether ``location`` has the form the emulator accepts for a location id (see
    ``_LOCATION_ID``: lowercase letters, digits and '-', such as ``us-central1``)."""
    return _LOCATION_ID.fullmatch(location) is not None


class _Key(NamedTuple):
    """Where a secret is stored: project NUMBER, location (None: global), secret id. A regional
    secret and a global one with the same id, or two regions' secrets, are different keys."""

    project: str
    location: str | None
    secret: str

    @property
    def name(self) -> str:
        """The canonical name: the one every response uses."""
        return f"{_parent_name(self.project, self.location)}/secrets/{self.secret}"


def _parent_name(project: str, location: str | None) -> str:
    return f"projects/{project}" if location is None else f"projects/{project}/locations/{location}"


def project_number(project: str, project_numbers: Mapping[str, str] | None = None) -> str:
    """The number the emulator uses for ``project`` (an id or already a number).

    Unmapped ids get a 12-digit number from a hash of the id, so it is the same in every
    process and run: a test can predict it, and two emulators agree on it.
    """
    if project.isdigit():
        return project
    if project_numbers and project in project_numbers:
        return project_numbers[project]
    digest = int.from_bytes(hashlib.sha256(project.encode()).digest()[:8], "big")
    return str(10**11 + digest % (9 * 10**11))


# ---------------------------------------------------------------------------------------------
# Filters: a small recursive-descent parser for the AIP-160 subset Secret Manager documents.


class FilterError(ValueError):
    """A list filter the emulator cannot parse or does not support."""


@dataclass(frozen=True)
class _Restriction:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class _Not:
    operand: _Expr


@dataclass(frozen=True)
class _And:
    operands: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Expr, ...]


_Expr = _Restriction | _Not | _And | _Or

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Longest operators first, so "<=" is not read as "<" followed by a value starting with "=".
_OPERATORS = ("<=", ">=", "!=", "<", ">", "=", ":")
_BARE_VALUE = re.compile(r"[^\s()]+")


class _FilterParser:
    """Grammar (AIP-160, trimmed to what Secret Manager filters use)::

    expression  = sequence { "AND" sequence }
    sequence    = factor { factor }              # juxtaposition means AND
    factor      = term { "OR" term }
    term        = [ "NOT" | "-" ] simple
    simple      = "(" expression ")" | restriction
    restriction = FIELD OPERATOR VALUE          # VALUE: bare word or quoted string
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def parse(self) -> _Expr | None:
        if not self._text.strip():
            return None
        expr = self._expression()
        self._skip_space()
        if self._pos != len(self._text):
            raise self._error("unexpected text")
        return expr

    def _expression(self) -> _Expr:
        sequences = [self._sequence()]
        while self._keyword("AND"):
            sequences.append(self._sequence())
        return sequences[0] if len(sequences) == 1 else _And(tuple(sequences))

    def _sequence(self) -> _Expr:
        factors = [self._factor()]
        while self._starts_term():
            factors.append(self._factor())
        return factors[0] if len(factors) == 1 else _And(tuple(factors))

    def _factor(self) -> _Expr:
        terms = [self._term()]
        while self._keyword("OR"):
            terms.append(self._term())
        return terms[0] if len(terms) == 1 else _Or(tuple(terms))

    def _term(self) -> _Expr:
        if self._keyword("NOT") or self._symbol("-"):
            return _Not(self._simple())
        return self._simple()

    def _simple(self) -> _Expr:
        if self._symbol("("):
            expr = self._expression()
            if not self._symbol(")"):
                raise self._error("expected ')'")
            return expr
        return self._restriction()

    def _restriction(self) -> _Restriction:
        self._skip_space()
        name = _FIELD.match(self._text, self._pos)
        if name is None or name.group() in ("AND", "OR", "NOT"):
            raise self._error("expected a field name")
        self._pos = name.end()
        self._skip_space()
        op = next((o for o in _OPERATORS if self._text.startswith(o, self._pos)), None)
        if op is None:
            raise self._error(f"expected an operator after {name.group()!r}")
        self._pos += len(op)
        self._skip_space()
        return _Restriction(name.group(), op, self._value())

    def _value(self) -> str:
        if self._pos < len(self._text) and self._text[self._pos] in "\"'":
            return self._quoted()
        bare = _BARE_VALUE.match(self._text, self._pos)
        if bare is None:
            raise self._error("expected a value")
        self._pos = bare.end()
        return bare.group()

    def _quoted(self) -> str:
        quote = self._text[self._pos]
        chars: list[str] = []
        pos = self._pos + 1
        while pos < len(self._text):
            char = self._text[pos]
            if char == "\\" and pos + 1 < len(self._text):
                chars.append(self._text[pos + 1])
                pos += 2
            elif char == quote:
                self._pos = pos + 1
                return "".join(chars)
            else:
                chars.append(char)
                pos += 1
        raise self._error("unterminated string")

    def _starts_term(self) -> bool:
        self._skip_space()
        if self._pos >= len(self._text) or self._text[self._pos] == ")":
            return False
        return not (self._peek_keyword("AND") or self._peek_keyword("OR"))

    def _peek_keyword(self, word: str) -> bool:
        # A keyword must stand alone: "ORDER:x" is a field, "OR (" and "NOT(" are keywords.
        if not self._text.startswith(word, self._pos):
            return False
        after = self._pos + len(word)
        return after < len(self._text) and (self._text[after].isspace() or self._text[after] == "(")

    def _keyword(self, word: str) -> bool:
        self._skip_space()
        if self._peek_keyword(word):
            self._pos += len(word)
            return True
        return False

    def _symbol(self, symbol: str) -> bool:
        self._skip_space()
        if self._text.startswith(symbol, self._pos):
            self._pos += len(symbol)
            return True
        return False

    def _skip_space(self) -> None:
        while self._pos < len(self._text) and self._text[self._pos].isspace():
            self._pos += 1

    def _error(self, reason: str) -> FilterError:
        return FilterError(f"invalid filter {self._text!r}: {reason} at offset {self._pos}")


def parse_filter(text: str) -> _Expr | None:
    """Parse a list filter; ``None`` for an empty one. Raises :class:`FilterError`."""
    return _FilterParser(text).parse()


def _compile(
    expr: _Expr, restriction: Callable[[_Restriction], Callable[[T], bool]]
) -> Callable[[T], bool]:
    """Turn a parsed filter into a predicate. Restrictions are checked here, up front, so an
    unsupported filter fails even when there is nothing to list."""
    match expr:
        case _Restriction():
            return restriction(expr)
        case _Not(operand):
            inner = _compile(operand, restriction)
            return lambda item: not inner(item)
        case _And(operands):
            parts = [_compile(o, restriction) for o in operands]
            return lambda item: all(part(item) for part in parts)
        case _Or(operands):
            parts = [_compile(o, restriction) for o in operands]
            return lambda item: any(part(item) for part in parts)


_COMPARISONS: dict[str, Callable[[datetime, datetime], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


def _time_restriction(
    restriction: _Restriction, get_time: Callable[[T], datetime]
) -> Callable[[T], bool]:
    compare = _COMPARISONS.get(restriction.op)
    if compare is None:
        raise FilterError(f"operator {restriction.op!r} is not supported for {restriction.field}")
    try:
        bound = datetime.fromisoformat(restriction.value)
    except ValueError:
        raise FilterError(f"{restriction.value!r} is not an RFC 3339 timestamp") from None
    if bound.tzinfo is None:
        raise FilterError(f"timestamp {restriction.value!r} needs a time zone (e.g. Z)")
    return lambda item: compare(get_time(item), bound)


# ---------------------------------------------------------------------------------------------
# State.


@dataclass
class _Version:
    number: int
    state: _State
    data: bytes | None
    create_time: datetime
    etag: str
    client_checksum: bool = False
    destroy_time: datetime | None = None
    # Set while a destroy waits out the secret's version_destroy_ttl (the version is DISABLED).
    scheduled_destroy_time: datetime | None = None
    # The CMEK keys its payload was encrypted with: the secret's when the version was added
    # (documented: encryption changes "do not apply retroactively to existing SecretVersions").
    kms_keys: frozenset[str] = frozenset()
    # time.monotonic() of the Enable/Disable/Destroy calls admitted in the last minute.
    state_changes: collections.deque[float] = field(default_factory=collections.deque)


@dataclass
class _SecretRecord:
    meta: Any  # secretmanager_v1.Secret, holding name (with project number), etag, labels...
    sequence: int  # creation order: ties in create_time list newest-created first
    key: _Key  # project number, location (None: global) and id
    versions: dict[int, _Version] = field(default_factory=dict)
    next_version: int = 1
    # time.monotonic() of the AddSecretVersion/UpdateSecret calls admitted in the last minute.
    writes: collections.deque[float] = field(default_factory=collections.deque)


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


def _version_sort_key(version: _Version) -> tuple[int, int]:
    """Sort key for ListSecretVersions: "sorted in reverse by create_time (newest first)"."""
    return _micros(version.create_time), version.number


def _secret_sort_key(record: _SecretRecord) -> tuple[int, int]:
    """Sort key for ListSecrets: "sorted in reverse by create_time (newest first)"."""
    return _micros(record.meta.create_time), record.sequence


def _version_restriction(restriction: _Restriction) -> Callable[[_Version], bool]:
    if restriction.field == "state":
        if restriction.op not in (":", "=", "!="):
            raise FilterError(f"operator {restriction.op!r} is not supported for state")
        if restriction.value not in STATES:
            raise FilterError(f"state must be one of {', '.join(STATES)}")
        wanted, negate = restriction.value, restriction.op == "!="
        return lambda version: (version.state == wanted) != negate
    if restriction.field == "create_time":
        return _time_restriction(restriction, lambda version: version.create_time)
    raise FilterError(f"the emulator cannot filter versions on {restriction.field!r}")


def _secret_restriction(restriction: _Restriction) -> Callable[[_SecretRecord], bool]:
    field_name, op, value = restriction.field, restriction.op, restriction.value
    if field_name == "name" and op == ":":
        return lambda record: value in record.meta.name
    if field_name.startswith("labels.") and op in (":", "="):
        key = field_name.removeprefix("labels.")
        if op == ":" and value == "*":
            return lambda record: key in record.meta.labels
        return lambda record: record.meta.labels.get(key) == value
    if field_name == "create_time":
        return _time_restriction(restriction, lambda record: record.meta.create_time)
    raise FilterError(f"the emulator cannot filter secrets on {field_name!r} with {op!r}")


def _predicate(
    text: str, restriction: Callable[[_Restriction], Callable[[T], bool]]
) -> Callable[[T], bool]:
    try:
        expr = parse_filter(text)
        return (lambda _item: True) if expr is None else _compile(expr, restriction)
    except FilterError as exc:
        raise _invalid(str(exc)) from None


def _page_size(requested: int) -> int:
    # Undocumented for Secret Manager; AIP-158 says a negative page size is INVALID_ARGUMENT.
    if requested < 0:
        raise _invalid("page_size must not be negative")
    # Documented: 0 lets the server decide (we choose the cap); above 25000 is capped at 25000.
    return MAX_PAGE_SIZE if requested == 0 else min(requested, MAX_PAGE_SIZE)


def _encode_location_token(last: str) -> str:
    return base64.urlsafe_b64encode(f"locations:{last}".encode()).decode()


def _decode_location_token(token: str) -> str | None:
    """The last location id a ListLocations page returned, from its token."""
    if not token:
        return None
    try:
        kind, _, last = base64.urlsafe_b64decode(token).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid("invalid page_token") from None
    if kind != "locations" or not last:
        raise _invalid("invalid page_token")
    return last


def _encode_token(kind: str, cursor: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{cursor[0]}:{cursor[1]}".encode()).decode()


def _decode_token(kind: str, token: str) -> tuple[int, int] | None:
    """The sort key of the last item returned in ``token``; tokens name a position, not an
    offset, so items added between pages neither repeat nor hide others."""
    if not token:
        return None
    try:
        found_kind, first, second = base64.urlsafe_b64decode(token).decode().split(":")
        cursor = (int(first), int(second))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid("invalid page_token") from None
    if found_kind != kind:
        raise _invalid("invalid page_token")
    return cursor


def _newest_first_page(
    items: Iterable[T],
    key: Callable[[T], tuple[int, int]],
    *,
    after: tuple[int, int] | None,
    page_size: int,
    kind: str,
) -> tuple[list[T], str]:
    ordered = sorted(items, key=key, reverse=True)
    if after is not None:
        ordered = [item for item in ordered if key(item) < after]
    page, rest = ordered[:page_size], ordered[page_size:]
    return page, (_encode_token(kind, key(page[-1])) if rest and page else "")


# ---------------------------------------------------------------------------------------------
# Field rules. Each raises INVALID_ARGUMENT; see the table in the module docstring.


def _check_location(location: str, name: str) -> None:
    if not is_location_id(location):
        raise _invalid(
            f"Location {location[:64]!r} in {name[:300]!r} is not a location id: lowercase "
            "letters, digits and '-', starting with a letter and ending with a letter or digit, "
            "at most 63 characters (such as us-central1)."
        )


def _check_secret_id(secret_id: str) -> None:
    if not _SECRET_ID.fullmatch(secret_id):
        raise _invalid(f"Secret id {secret_id!r} must be 1-255 letters, numerals, '-' or '_'.")


def _check_annotations(annotations: Mapping[str, str]) -> None:
    total = 0
    for key, value in annotations.items():
        if (
            not 1 <= len(key) <= ANNOTATION_KEY_MAX_CHARS
            or len(key.encode()) > ANNOTATION_KEY_MAX_BYTES
            or not _ANNOTATION_KEY.fullmatch(key)
        ):
            raise _invalid(
                f"Annotation key {key!r} is invalid: keys are 1-63 characters (at most 128 "
                "bytes of UTF-8), begin and end with [a-zA-Z0-9], and have only alphanumerics, "
                "'-', '_' and '.' in between."
            )
        total += len(key.encode()) + len(value.encode())
    if total >= ANNOTATIONS_SIZE_LIMIT:
        raise _invalid(
            f"Annotation keys and values total {total} bytes; they must be less than 16KiB."
        )


def _label_text_ok(text: str, *, key: bool) -> bool:
    if len(text) > LABEL_MAX_CHARS or len(text.encode()) > LABEL_MAX_BYTES:
        return False
    if key and (not text or unicodedata.category(text[0]) not in _LABEL_FIRST_CATEGORIES):
        return False
    return all(char in "_-" or unicodedata.category(char) in _LABEL_CATEGORIES for char in text)


def _check_labels(labels: Mapping[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        raise _invalid(f"{len(labels)} labels; no more than {MAX_LABELS} can be assigned.")
    for key, value in labels.items():
        if not _label_text_ok(key, key=True):
            raise _invalid(
                f"Label key {key!r} is invalid: 1-63 characters (at most 128 bytes), matching "
                r"[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}."
            )
        if not _label_text_ok(value, key=False):
            raise _invalid(
                f"Label value {value!r} of {key!r} is invalid: 0-63 characters (at most 128 "
                r"bytes), matching [\p{Ll}\p{Lo}\p{N}_-]{0,63}."
            )


def _check_version_aliases(aliases: Mapping[str, int], versions: Mapping[int, _Version]) -> None:
    if len(aliases) > MAX_VERSION_ALIASES:
        raise _invalid(
            f"{len(aliases)} version aliases; no more than {MAX_VERSION_ALIASES} can be assigned."
        )
    for alias, number in aliases.items():
        if not _VERSION_ALIAS.fullmatch(alias) or alias.lower() in _RESERVED_ALIASES:
            raise _invalid(
                f"Version alias {alias!r} is invalid: up to 63 letters, numerals, '-' and '_', "
                "starting with a letter, and not 'latest' or 'new'."
            )
        if number not in versions:
            raise _invalid(f"Version alias {alias!r} names version {number}, which does not exist.")


def _check_topics(topics: Sequence[Any]) -> None:
    if len(topics) > MAX_TOPICS:
        raise _invalid(f"{len(topics)} topics; a secret can have up to {MAX_TOPICS}.")
    for topic in topics:
        if not _TOPIC_NAME.fullmatch(topic.name):
            raise _invalid(f"Topic {topic.name!r} must be in the format projects/*/topics/*.")


def _check_rotation(rotation: Any, *, has_topics: bool, now: datetime) -> None:
    pb = secretmanager_v1.Rotation.pb(rotation)
    has_time, has_period = pb.HasField("next_rotation_time"), pb.HasField("rotation_period")
    if has_period and not has_time:
        raise _invalid("rotation.next_rotation_time must be set if rotation_period is set.")
    if has_time:
        if not has_topics:
            raise _invalid("Secret.topics must be set to configure rotation.")
        lead = pb.next_rotation_time.ToDatetime(tzinfo=UTC) - now
        if lead < MIN_ROTATION_LEAD or lead > timedelta(seconds=MAX_ROTATION_SECONDS):
            raise _invalid(
                "rotation.next_rotation_time must be at least 300s and at most 3153600000s "
                "in the future."
            )
    if has_period:
        period = pb.rotation_period
        if (
            period.nanos != 0
            or not MIN_ROTATION_PERIOD_SECONDS <= period.seconds <= MAX_ROTATION_SECONDS
        ):
            raise _invalid(
                "rotation.rotation_period must be in whole seconds, at least 3600s and at most "
                "3153600000s."
            )


def _check_expiration(secret: Any, *, now: datetime) -> None:
    """The ``expiration`` a Secret asks for (expire_time, or ttl from ``now``) must be 60 s to
    100 years away ("Set an expiration date for a secret")."""
    pb = secretmanager_v1.Secret.pb(secret)
    which = pb.WhichOneof("expiration")
    if which is None:
        return
    lead = pb.ttl.ToTimedelta() if which == "ttl" else pb.expire_time.ToDatetime(tzinfo=UTC) - now
    if not MIN_EXPIRATION_LEAD <= lead <= MAX_EXPIRATION_LEAD:
        raise _invalid(
            f"Secret.{which}: a secret's expiration cannot be less than 60 seconds away or more "
            "than 100 years away."
        )


def _check_version_destroy_ttl(secret: Any) -> None:
    """Secret.version_destroy_ttl, when sent: 0 (no delay) or at least 24 hours."""
    pb = secretmanager_v1.Secret.pb(secret)
    if not pb.HasField("version_destroy_ttl"):
        return
    ttl = pb.version_destroy_ttl.ToTimedelta()
    if ttl != timedelta(0) and ttl < MIN_VERSION_DESTROY_TTL:
        raise _invalid(
            f"Secret.version_destroy_ttl is {ttl.total_seconds():g}s; it must be 0s (no delay) "
            "or at least 24h (86400s)."
        )


def _version_destroy_ttl(secret: Any) -> timedelta | None:
    """The delay a DestroySecretVersion of ``secret`` waits out, or None: destroy at once."""
    pb = secretmanager_v1.Secret.pb(secret)
    if not pb.HasField("version_destroy_ttl"):
        return None
    ttl = pb.version_destroy_ttl.ToTimedelta()
    return ttl if ttl > timedelta(0) else None


def _check_masked_fields(sent: Any, updates: Collection[str]) -> None:
    """UpdateSecret: the rules on the fields the mask names that need no stored state."""
    if "annotations" in updates:
        _check_annotations(sent.annotations)
    if "labels" in updates:
        _check_labels(sent.labels)
    if "topics" in updates:
        _check_topics(sent.topics)
    if "version_destroy_ttl" in updates:
        _check_version_destroy_ttl(sent)


def _cmek_configs(
    secret: Any, *, secret_location: str | None = None
) -> Iterator[tuple[Any, str | None]]:
    """Each CustomerManagedEncryption in a Secret, with the location its key must be in. The
    top-level field (meant for regionalized secrets) must be in a regional secret's location
    ``secret_location``; on a global secret (``None``) its location is not documented."""
    pb = secretmanager_v1.Secret.pb(secret)
    if pb.HasField("customer_managed_encryption"):
        yield pb.customer_managed_encryption, secret_location
    replication = pb.replication
    if replication.automatic.HasField("customer_managed_encryption"):
        yield replication.automatic.customer_managed_encryption, "global"
    for replica in replication.user_managed.replicas:
        if replica.HasField("customer_managed_encryption"):
            yield replica.customer_managed_encryption, replica.location


def _check_cmek(secret: Any, *, secret_location: str | None) -> None:
    for config, location in _cmek_configs(secret, secret_location=secret_location):
        _check_kms_key_name(config.kms_key_name, location=location)


def _check_kms_key_name(name: str, *, location: str | None) -> None:
    """CustomerManagedEncryption.kms_key_name: required, a CryptoKey name, in ``location``."""
    match = _KMS_KEY_NAME.fullmatch(name)
    if match is None:
        raise _invalid(
            f"kms_key_name {name!r} must be in the format "
            "projects/*/locations/*/keyRings/*/cryptoKeys/*."
        )
    if location is not None and match.group(1) != location:
        raise _invalid(
            f"kms_key_name {name!r} must reside in {location!r}, the location of the data it "
            "encrypts."
        )


def _kms_keys(secret: Any) -> frozenset[str]:
    """The CMEK keys a version added now to ``secret`` is encrypted with."""
    return frozenset(config.kms_key_name for config, _ in _cmek_configs(secret))


def _admit(calls: collections.deque[float], limit: RateLimit, now: float, what: str) -> None:
    """Count a call at ``now`` (seconds, monotonic) against ``limit``, or refuse it with
    RESOURCE_EXHAUSTED and count nothing. ``calls`` holds the admitted calls of the last minute;
    both windows slide (the quotas page does not say how it counts)."""
    while calls and calls[0] <= now - 60:
        calls.popleft()
    last_second = sum(1 for then in calls if then > now - 1)
    if last_second >= limit.per_second or len(calls) >= limit.per_minute:
        raise EmulatorError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"Quota exceeded for {what}: at most {limit.per_second} requests per second and "
            f"{limit.per_minute} per minute.",
        )
    calls.append(now)


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return when


def _write_expiration(updated: Any, sent: Any, paths: Sequence[str], *, now: datetime) -> None:
    """UpdateSecret of the ``expiration`` oneof: the member the request sets, if the mask names
    it, replaces any expiration (checked; a ttl counts from ``now``); otherwise the masked
    member is unset, which removes the expiration (AIP-134: a masked field left unset is
    cleared; "An expiration can be added, updated, or removed from a secret at any time")."""
    pb = secretmanager_v1.Secret.pb(updated)
    pb.ClearField("expire_time")
    pb.ClearField("ttl")
    chosen = secretmanager_v1.Secret.pb(sent).WhichOneof("expiration")
    if chosen not in paths:
        return
    _check_expiration(sent, now=now)
    updated.expire_time = now + sent.ttl if chosen == "ttl" else sent.expire_time


def _field_value(secret: Any, name: str) -> Any:
    """A comparable copy of one field of a Secret (maps become dicts)."""
    value = getattr(secretmanager_v1.Secret.pb(secret), name)
    return dict(value) if name == "tags" else value


# ---------------------------------------------------------------------------------------------
# The emulator.


class SecretManagerEmulator(EmulatorServer):
    """In-memory Secret Manager served over plaintext gRPC, plus thread-safe test hooks.

    One lock guards all state and every RPC holds it for its whole read-modify-write, which is
    what makes etag checks atomic compare-and-swaps.

    ``clock`` is the service's wall clock (create times, rotation and expiration); tests freeze
    or move it. ``monotonic`` (default ``time.monotonic``) times the per-secret and per-version
    write rate limits, which are on unless ``rate_limits=False``; the ``rate_limits`` attribute
    switches them at any time.

    ``locations`` is the set of locations Secret Manager serves (has a regional endpoint for);
    ``None``, the default, serves every well-formed location id. A regional call for a location
    not served answers UNAVAILABLE, as a client whose endpoint does not resolve sees it, and
    GetLocation answers NOT_FOUND for it. The ``locations`` attribute can be changed at any time.
    """

    def __init__(
        self,
        *,
        project_numbers: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        rate_limits: bool = True,
        monotonic: Callable[[], float] | None = None,
        locations: Collection[str] | None = None,
    ) -> None:
        super().__init__(RPC_NAMES, max_workers=64)
        self.locations = locations
        self._project_numbers = dict(project_numbers or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        # Rate limits count real elapsed time, not the service clock that tests freeze or move.
        self.rate_limits = rate_limits
        self._monotonic = monotonic or time.monotonic
        # Cloud KMS keys (CryptoKey names) made unusable by set_kms_key_enabled.
        self._unusable_kms_keys: set[str] = set()
        self._lock = threading.Lock()
        self._secrets: dict[_Key, _SecretRecord] = {}
        self._secret_sequence = itertools.count()
        # A per-instance salt keeps etags from one emulator from matching another's.
        self._etag_salt = secrets.token_hex(4)
        self._etag_counter = itertools.count(1)
        self._precondition_message: str | None = None
        # Every RPC received, by method name, including refused and faulted ones.
        self.calls: collections.Counter[str] = self._faults.calls

    @property
    def locations(self) -> frozenset[str] | None:
        """The locations served, or ``None`` for every well-formed location id."""
        return self._locations

    @locations.setter
    def locations(self, locations: Collection[str] | None) -> None:
        if isinstance(locations, str):
            raise TypeError("locations must be a collection of location ids, not one string")
        if locations is not None:
            malformed = sorted(loc for loc in locations if not is_location_id(loc))
            if malformed:
                raise ValueError(f"not location ids: {malformed}")
            locations = frozenset(locations)
        self._locations = locations

    def _serves(self, location: str) -> bool:
        served = self._locations
        return served is None or location in served

    # -- test hooks --------------------------------------------------------------------------
    # Hooks take global (projects/P/secrets/S) and regional (projects/P/locations/L/secrets/S)
    # names alike; a regional name needs a well-formed location id, served or not.
    # Hooks seed state that already exists upstream, so they skip the field rules that RPCs
    # enforce (a test can seed an annotation key an old release wrote before the rules bit).

    def create_secret(
        self,
        name: str,
        *,
        annotations: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        expire_time: datetime | None = None,
        kms_key_name: str | None = None,
    ) -> str:
        """Create ``projects/P/secrets/S`` (automatic replication) or the regional secret
        ``projects/P/locations/L/secrets/S`` (no replication); returns its canonical name.

        ``annotations``, ``labels`` and ``expire_time`` (even one already past) are stored as
        given, unchecked. ``kms_key_name`` sets the CMEK key (of the automatic replication, or of
        the regional secret), which encrypts every version added afterwards. Raises
        :class:`EmulatorError` (ALREADY_EXISTS, or INVALID_ARGUMENT for a bad secret id or
        location) like the RPC would.
        """
        key = self._secret_key(name)
        _check_secret_id(key.secret)
        secret = secretmanager_v1.Secret(
            annotations=dict(annotations or {}), labels=dict(labels or {})
        )
        if expire_time is not None:
            secret.expire_time = _aware(expire_time, "expire_time")
        if kms_key_name is not None:
            encryption = secretmanager_v1.CustomerManagedEncryption(kms_key_name=kms_key_name)
            if key.location is not None:
                secret.customer_managed_encryption = encryption
            else:
                secret.replication = secretmanager_v1.Replication(
                    automatic=secretmanager_v1.Replication.Automatic(
                        customer_managed_encryption=encryption
                    )
                )
        with self._lock:
            return str(self._insert_secret(key, secret).meta.name)

    def set_expire_time(self, secret: str, expire_time: datetime | None) -> None:
        """Set (or with ``None`` remove) the secret's ``expire_time`` as given, unchecked; the
        etag does not change. A time already past deletes the secret on its next access."""
        when = None if expire_time is None else _aware(expire_time, "expire_time")
        with self._lock:
            meta = self._secret(secret).meta
            if when is None:
                secretmanager_v1.Secret.pb(meta).ClearField("expire_time")
            else:
                meta.expire_time = when

    def set_kms_key_enabled(self, kms_key_name: str, enabled: bool) -> None:
        """Make the Cloud KMS key ``kms_key_name`` (a CryptoKey) unusable, as disabling or
        destroying it does, or usable again. While it is unusable, accessing a version whose
        payload it encrypted is FAILED_PRECONDITION; the version itself stays ENABLED."""
        if _KMS_KEY_NAME.fullmatch(kms_key_name) is None:
            raise ValueError(
                "kms_key_name must be projects/*/locations/*/keyRings/*/cryptoKeys/*, not "
                f"{kms_key_name!r}"
            )
        with self._lock:
            if enabled:
                self._unusable_kms_keys.discard(kms_key_name)
            else:
                self._unusable_kms_keys.add(kms_key_name)

    def add_version(
        self,
        secret: str,
        data: bytes,
        *,
        create_time: datetime | None = None,
        state: str = "ENABLED",
        scheduled_destroy_time: datetime | None = None,
    ) -> str:
        """Add a version in any state with a chosen create time; returns the version name.

        ``scheduled_destroy_time`` (DISABLED versions only) seeds a version whose destruction
        a DestroySecretVersion under a version_destroy_ttl already scheduled, whatever the
        secret's ttl is now; a time already past destroys it on the next access.
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        if create_time is not None:
            _aware(create_time, "create_time")
        if scheduled_destroy_time is not None:
            _aware(scheduled_destroy_time, "scheduled_destroy_time")
            if state != "DISABLED":
                raise ValueError("only a DISABLED version can be scheduled for destruction")
        with self._lock:
            record = self._secret(secret)
            version = self._insert_version(record, data, create_time=create_time)
            if state != "ENABLED":
                self._set_state(version, state)
            if scheduled_destroy_time is not None:
                version.scheduled_destroy_time = scheduled_destroy_time.astimezone(UTC)
            return self._version_name(record, version)

    def set_version_destroy_ttl(self, secret: str, ttl: timedelta | None) -> None:
        """Set (or with ``None`` remove) the secret's ``version_destroy_ttl`` as given,
        unchecked (a seeding hook); the etag does not change. Versions already scheduled for
        destruction keep their schedule."""
        with self._lock:
            meta = self._secret(secret).meta
            if ttl is None:
                secretmanager_v1.Secret.pb(meta).ClearField("version_destroy_ttl")
            else:
                meta.version_destroy_ttl = ttl

    def set_version_aliases(self, secret: str, aliases: Mapping[str, int]) -> None:
        """Replace the secret's ``version_aliases`` as given, unchecked (a seeding hook).

        The secret's etag does not change: this models state that already exists upstream.
        """
        with self._lock:
            record = self._secret(secret)
            record.meta.version_aliases.clear()
            record.meta.version_aliases.update({str(a): int(n) for a, n in aliases.items()})

    def set_rotation(
        self,
        secret: str,
        *,
        next_rotation_time: datetime,
        rotation_period: timedelta,
        topics: Sequence[str],
    ) -> None:
        """Give the secret a rotation schedule and topics as given, unchecked (a seeding hook:
        a schedule already running upstream, its next time possibly past). The etag does not
        change. ``rotation_period`` is kept, though GetSecret never returns it (INPUT_ONLY)."""
        when = _aware(next_rotation_time, "next_rotation_time")
        with self._lock:
            meta = self._secret(secret).meta
            meta.rotation = secretmanager_v1.Rotation(
                next_rotation_time=when, rotation_period=rotation_period
            )
            meta.topics = [secretmanager_v1.Topic(name=topic) for topic in topics]

    def publish_due_rotations(self, publish: Callable[[str, dict[str, Any]], None]) -> int:
        """Publish SECRET_ROTATE for every secret whose ``next_rotation_time`` has come (by the
        emulator clock), as Secret Manager does, then advance it by ``rotation_period``.

        ``publish(topic, message)`` receives, per topic, the Pub/Sub message: ``attributes``
        (``eventType``, ``secretId`` with the project number, ``dataFormat``) and ``data`` (the
        Secret resource as JSON, base64). Returns how many secrets were due. Nothing is
        published while the emulator's lock is held.
        """
        outbox: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            self._drop_expired()
            now = self._now()
            for record in self._secrets.values():
                rotation = record.meta.rotation
                if "rotation" not in record.meta or "next_rotation_time" not in rotation:
                    continue
                if rotation.next_rotation_time > now:
                    continue
                message = self._rotate_message(record)
                outbox.extend((topic.name, message) for topic in record.meta.topics)
                period = rotation.rotation_period if "rotation_period" in rotation else None
                if period:
                    # resources.py Rotation.rotation_period: "next_rotation_time will be advanced
                    # by this period when the service automatically sends rotation notifications"
                    rotation.next_rotation_time = rotation.next_rotation_time + period
                else:
                    secretmanager_v1.Secret.pb(record.meta).rotation.ClearField(
                        "next_rotation_time"
                    )
        for topic, message in outbox:
            publish(topic, message)
        return len({message["attributes"]["secretId"] for _, message in outbox})

    def _rotate_message(self, record: _SecretRecord) -> dict[str, Any]:
        resource = secretmanager_v1.Secret.to_json(self._secret_message(record))
        return {
            "attributes": {
                "eventType": "SECRET_ROTATE",
                "secretId": str(record.meta.name),
                "dataFormat": "JSON_API_V1",
            },
            "data": base64.b64encode(resource.encode()).decode(),
        }

    def set_annotations(self, secret: str, annotations: Mapping[str, str]) -> None:
        """Replace the secret's annotations as given, unchecked (a seeding hook): state that a
        writer left upstream, such as a lease taken long ago. The secret gets a new etag, as
        the write that left them would have given it."""
        with self._lock:
            record = self._secret(secret)
            record.meta.annotations.clear()
            record.meta.annotations.update(dict(annotations))
            record.meta.etag = self._new_etag()

    def set_precondition_message(self, text: str | None) -> None:
        """Use ``text`` as the message of every etag-mismatch FAILED_PRECONDITION (``None``:
        the default). The wording is not part of Secret Manager's contract, so a test can make
        it say anything and show that callers act on the status code alone."""
        with self._lock:
            self._precondition_message = text

    def version_states(self, secret: str) -> dict[int, str]:
        """``{version number: state}`` for every version of ``secret``."""
        with self._lock:
            return {n: v.state for n, v in sorted(self._secret(secret).versions.items())}

    def payload(self, secret: str, version: int | str = "latest") -> bytes | None:
        """The stored bytes of a version whatever its state; ``None`` once destroyed."""
        with self._lock:
            return self._resolve(self._secret(secret), str(version)).data

    def annotations(self, secret: str) -> dict[str, str]:
        with self._lock:
            return dict(self._secret(secret).meta.annotations)

    # -- names -------------------------------------------------------------------------------

    def _parse(self, pattern: re.Pattern[str], name: str, what: str) -> tuple[str, ...]:
        """The groups of ``name``, the project as its number (an optional group that is absent,
        such as the location of a global name, is None); INVALID_ARGUMENT if ``name`` is not of
        the form, or names a location that is not a well-formed location id."""
        match = pattern.fullmatch(name)
        if match is None:
            raise _invalid(f"Invalid {what} name {name!r}.")
        project, *rest = match.groups()
        if pattern in _LOCATED_NAMES and rest[0] is not None:
            _check_location(rest[0], name)
        return (project_number(project, self._project_numbers), *rest)

    def _parent(self, name: str) -> tuple[str, str | None]:
        """A CreateSecret/ListSecrets parent: ``projects/P`` or ``projects/P/locations/L``."""
        project, location = self._parse(_PARENT_NAME, name, "parent")
        return project, location

    def _secret_key(self, name: str) -> _Key:
        project, location, secret_id = self._parse(_SECRET_NAME, name, "secret")
        return _Key(project, location, secret_id)

    def _version_key(self, name: str) -> tuple[_Key, str]:
        project, location, secret_id, version_id = self._parse(
            _VERSION_NAME, name, "secret version"
        )
        return _Key(project, location, secret_id), version_id

    def _secret(self, name: str) -> _SecretRecord:
        return self._record(self._secret_key(name))

    def _record(self, key: _Key) -> _SecretRecord:
        record = self._live(key)
        if record is None:
            raise _not_found(f"Secret [{key.name}] not found.")
        return record

    def _live(self, key: _Key) -> _SecretRecord | None:
        """The secret stored at ``key``, unless it has expired. Upstream a secret is deleted
        with its versions at its expiration time; the emulator does that lazily, on the first
        access after it (caller holds the lock)."""
        record = self._secrets.get(key)
        if record is not None and self._expired(record):
            del self._secrets[key]
            return None
        if record is not None:
            self._destroy_due_versions(record)
        return record

    def _expired(self, record: _SecretRecord) -> bool:
        # Short-circuits, so secrets without an expiration never consult the clock.
        return "expire_time" in record.meta and self._now() >= record.meta.expire_time

    def _destroy_due_versions(self, record: _SecretRecord) -> None:
        """Destroy the versions whose scheduled_destroy_time has passed. Upstream that happens
        at the time; the emulator does it lazily, on the first access of the secret after it
        (caller holds the lock). The version keeps its scheduled_destroy_time, its destroy_time
        is the scheduled time, and it gets a new etag."""
        due = [
            (version, when)
            for version in record.versions.values()
            if (when := version.scheduled_destroy_time) is not None and version.state == "DISABLED"
        ]
        if not due:
            return  # so versions without a schedule never consult the clock
        now = self._now()
        for version, when in due:
            if now > when:  # "Version is destroyed only after the scheduled_destroy_time"
                version.state = "DESTROYED"
                version.data = None
                version.destroy_time = when
                version.etag = self._new_etag()

    def _drop_expired(self) -> None:
        for key in [key for key, record in self._secrets.items() if self._expired(record)]:
            del self._secrets[key]

    @staticmethod
    def _version_name(record: _SecretRecord, version: _Version) -> str:
        return f"{record.meta.name}/versions/{version.number}"

    def _resolve(self, record: _SecretRecord, version_id: str, *, aliases: bool = True) -> _Version:
        """The version ``version_id`` names: a number, or with ``aliases`` also ``latest`` or
        a version alias (documented for GetSecretVersion and AccessSecretVersion only)."""
        if not aliases and not version_id.isdigit():
            raise _invalid(
                f"Secret Version [{record.meta.name}/versions/{version_id}]: this call takes "
                "a version number, not 'latest' or an alias."
            )
        if version_id == "latest":
            if not record.versions:
                raise _not_found(f"Secret [{record.meta.name}] not found or has no versions.")
            return record.versions[max(record.versions)]
        number = int(version_id) if version_id.isdigit() else None
        if number is None and version_id in record.meta.version_aliases:
            number = int(record.meta.version_aliases[version_id])
        version = record.versions.get(number) if number is not None else None
        if version is None:
            raise _not_found(
                f"Secret Version [{record.meta.name}/versions/{version_id}] not found."
            )
        return version

    def _versioned(self, name: str, *, aliases: bool = True) -> tuple[_SecretRecord, _Version]:
        key, version_id = self._version_key(name)
        record = self._record(key)
        return record, self._resolve(record, version_id, aliases=aliases)

    # -- mutations (caller holds the lock) ---------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the emulator clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    def _new_etag(self) -> str:
        return f'"{self._etag_salt}{next(self._etag_counter):06x}"'

    def _limit_secret_write(self, record: _SecretRecord) -> None:
        """AddSecretVersion/UpdateSecret: the per-secret limit of the secret's kind."""
        regional = record.key.location is not None
        self._limit(
            record.writes,
            REGIONAL_SECRET_WRITE_LIMIT if regional else SECRET_WRITE_LIMIT,
            _SECRET_WRITES.format(record.meta.name),
        )

    def _limit(self, calls: collections.deque[float], limit: RateLimit, what: str) -> None:
        """Apply a documented write rate limit unless rate limits are off (caller holds the
        lock, so concurrent calls are counted one at a time)."""
        if self.rate_limits:
            _admit(calls, limit, self._monotonic(), what)

    def _check_etag(self, requested: str, current: str, resource: str) -> None:
        """Documented: a non-empty etag that is not the current one is FAILED_PRECONDITION. The
        message wording is not documented, so by default it avoids the word callers might
        grep for, and tests can replace it (``set_precondition_message``)."""
        if requested and requested != current:
            template = self._precondition_message or _DEFAULT_PRECONDITION_MESSAGE
            raise _precondition(template.replace("{resource}", resource))

    @staticmethod
    def _drop_output_only(secret: Any) -> None:
        """Output only fields a client sent are ignored: the server sets them."""
        pb = secretmanager_v1.Secret.pb(secret)
        for output_only in ("name", "create_time", "etag", "policy_member"):
            pb.ClearField(output_only)
        if pb.HasField("rotation"):
            pb.rotation.ClearField("managed_rotation_status")

    def _ttl_to_expire_time(self, secret: Any) -> None:
        """``ttl`` is input only and ``expire_time`` "is always provided on output"."""
        if "ttl" in secret:
            secret.expire_time = self._now() + secret.ttl  # the oneof drops ttl

    def _insert_secret(self, key: _Key, secret: Any) -> _SecretRecord:
        name = key.name
        if self._live(key) is not None:
            raise EmulatorError(grpc.StatusCode.ALREADY_EXISTS, f"Secret [{name}] already exists.")
        meta = secretmanager_v1.Secret()
        secretmanager_v1.Secret.copy_from(meta, secret)
        self._drop_output_only(meta)
        self._ttl_to_expire_time(meta)
        meta.name = name
        meta.create_time = self._now()
        meta.etag = self._new_etag()
        if "replication" not in meta and key.location is None:
            meta.replication = secretmanager_v1.Replication(
                automatic=secretmanager_v1.Replication.Automatic()
            )
        record = _SecretRecord(meta, sequence=next(self._secret_sequence), key=key)
        self._secrets[key] = record
        return record

    def _insert_version(
        self, record: _SecretRecord, data: bytes, *, create_time: datetime | None = None
    ) -> _Version:
        version = _Version(
            number=record.next_version,
            state="ENABLED",
            data=bytes(data),
            create_time=create_time.astimezone(UTC) if create_time else self._now(),
            etag=self._new_etag(),
            kms_keys=_kms_keys(record.meta),
        )
        record.versions[version.number] = version
        record.next_version += 1
        return version

    def _set_state(self, version: _Version, state: _State) -> None:
        # Documented: every successful update gets a new etag, even one that changes nothing.
        version.etag = self._new_etag()
        if state != "DESTROYED":
            # "Delay destruction of secret versions": enabling or disabling a version scheduled
            # for destruction cancels the schedule (disabling a DISABLED one included).
            version.scheduled_destroy_time = None
        if version.state == state:
            return
        version.state = state
        if state == "DESTROYED":
            version.data = None
            version.destroy_time = self._now()

    def _schedule_destroy(self, version: _Version, ttl: timedelta | None) -> None:
        """DestroySecretVersion under the secret's version_destroy_ttl: the version is disabled
        and scheduled for destruction ``ttl`` from now. A version already scheduled keeps its
        schedule, whatever the secret's ttl is now (undocumented); either way it gets a new
        etag."""
        version.etag = self._new_etag()
        if version.scheduled_destroy_time is None and ttl is not None:
            version.state = "DISABLED"
            version.scheduled_destroy_time = self._now() + ttl

    # -- messages ----------------------------------------------------------------------------

    @staticmethod
    def _secret_message(record: _SecretRecord) -> Any:
        # A copy: responses are serialized after the lock is released.
        out = secretmanager_v1.Secret()
        secretmanager_v1.Secret.copy_from(out, record.meta)
        # Input only fields are not returned (google.api.field_behavior INPUT_ONLY).
        pb = secretmanager_v1.Secret.pb(out)
        pb.ClearField("tags")
        if pb.HasField("rotation"):
            pb.rotation.ClearField("rotation_period")
        return out

    def _version_message(self, record: _SecretRecord, version: _Version) -> Any:
        message = secretmanager_v1.SecretVersion(
            name=self._version_name(record, version),
            create_time=version.create_time,
            state=getattr(secretmanager_v1.SecretVersion.State, version.state),
            etag=version.etag,
            client_specified_payload_checksum=version.client_checksum,
        )
        if record.key.location is None:  # a regional secret has no replication
            message.replication_status = secretmanager_v1.ReplicationStatus(
                automatic=secretmanager_v1.ReplicationStatus.AutomaticStatus()
            )
        if version.destroy_time is not None:
            message.destroy_time = version.destroy_time
        if version.scheduled_destroy_time is not None:
            message.scheduled_destroy_time = version.scheduled_destroy_time
        return message

    # -- RPCs --------------------------------------------------------------------------------

    def _create_secret(self, request: Any) -> Any:
        project, location = self._parent(request.parent)
        _check_secret_id(request.secret_id)
        secret = request.secret
        if location is not None and "replication" in secret:
            # "REST Resource: projects.locations.secrets": a regional Secret has no replication.
            raise _invalid(
                f"Secret.replication cannot be set on a regional secret: its data stays in "
                f"{location!r}, the location of its parent {request.parent!r}."
            )
        _check_annotations(secret.annotations)
        _check_labels(secret.labels)
        _check_topics(secret.topics)
        _check_cmek(secret, secret_location=location)
        _check_version_destroy_ttl(secret)
        with self._lock:
            # A new secret has no versions, so any alias names a missing version.
            _check_version_aliases(secret.version_aliases, {})
            now = self._now()
            if "rotation" in secret:
                _check_rotation(secret.rotation, has_topics=bool(secret.topics), now=now)
            _check_expiration(secret, now=now)
            key = _Key(project, location, request.secret_id)
            return self._secret_message(self._insert_secret(key, secret))

    def _get_secret(self, request: Any) -> Any:
        with self._lock:
            return self._secret_message(self._secret(request.name))

    def _update_secret(self, request: Any) -> Any:
        paths = list(request.update_mask.paths)
        if not paths:
            raise _invalid("update_mask is required.")
        known = _UPDATABLE_SECRET_FIELDS | _OUTPUT_ONLY_SECRET_FIELDS | _IMMUTABLE_SECRET_FIELDS
        refused = [p for p in paths if p not in known]
        if refused:
            raise _invalid(f"update_mask paths {refused} name no updatable field of Secret.")
        updates = [p for p in paths if p in _UPDATABLE_SECRET_FIELDS]
        # expire_time and ttl are one oneof, written below as a whole; the mask merges the rest.
        expiration = [p for p in updates if p in _EXPIRATION_FIELDS]
        merged = [p for p in updates if p not in _EXPIRATION_FIELDS]
        sent = request.secret
        _check_masked_fields(sent, updates)
        key = self._secret_key(sent.name)
        if "customer_managed_encryption" in updates and "customer_managed_encryption" in sent:
            _check_kms_key_name(
                sent.customer_managed_encryption.kms_key_name, location=key.location
            )
        with self._lock:
            record = self._record(key)
            self._limit_secret_write(record)
            self._check_etag(sent.etag, record.meta.etag, f"Secret [{record.meta.name}]")
            for immutable in (p for p in paths if p in _IMMUTABLE_SECRET_FIELDS):
                if _field_value(sent, immutable) != _field_value(record.meta, immutable):
                    raise _invalid(f"Secret.{immutable} is immutable; it cannot be changed.")
            updated = secretmanager_v1.Secret()
            secretmanager_v1.Secret.copy_from(updated, record.meta)
            field_mask_pb2.FieldMask(paths=merged).MergeMessage(
                secretmanager_v1.Secret.pb(sent),
                secretmanager_v1.Secret.pb(updated),
                replace_message_field=True,
                replace_repeated_field=True,
            )
            now = self._now()
            if "version_aliases" in updates:
                _check_version_aliases(updated.version_aliases, record.versions)
            if "rotation" in updates:
                _check_rotation(updated.rotation, has_topics=bool(updated.topics), now=now)
            if "rotation" in updated:
                secretmanager_v1.Secret.pb(updated).rotation.ClearField("managed_rotation_status")
            if expiration:
                _write_expiration(updated, sent, expiration, now=now)
            updated.etag = self._new_etag()  # also for an update that changes nothing
            record.meta = updated
            return self._secret_message(record)

    def _delete_secret(self, request: Any) -> Any:
        with self._lock:
            record = self._secret(request.name)
            self._check_etag(request.etag, record.meta.etag, f"Secret [{record.meta.name}]")
            del self._secrets[record.key]
        return empty_pb2.Empty()

    def _list_secrets(self, request: Any) -> Any:
        project, location = self._parent(request.parent)
        matches = _predicate(request.filter, _secret_restriction)
        size = _page_size(request.page_size)
        after = _decode_token("secrets", request.page_token)
        with self._lock:
            self._drop_expired()
            # Per location: projects/P lists the global secrets, projects/P/locations/L those
            # of L only.
            where = (project, location)
            records = [r for k, r in self._secrets.items() if (k.project, k.location) == where]
            page, token = _newest_first_page(
                (r for r in records if matches(r)),
                _secret_sort_key,
                after=after,
                page_size=size,
                kind="secrets",
            )
            return secretmanager_v1.ListSecretsResponse(
                secrets=[self._secret_message(r) for r in page],
                next_page_token=token,
                total_size=0 if request.filter else len(records),
            )

    def _add_secret_version(self, request: Any) -> Any:
        data = bytes(request.payload.data)
        if len(data) > MAX_PAYLOAD_BYTES:
            raise _invalid(f"Secret payload is {len(data)} bytes; the limit is 64 KiB.")
        checksum = "data_crc32c" in request.payload
        if checksum and request.payload.data_crc32c != google_crc32c.value(data):
            raise _invalid("Checksum mismatch. Data corrupted in transit or request is invalid.")
        with self._lock:
            record = self._secret(request.parent)
            self._limit_secret_write(record)
            version = self._insert_version(record, data)
            version.client_checksum = checksum
            return self._version_message(record, version)

    def _get_secret_version(self, request: Any) -> Any:
        with self._lock:
            return self._version_message(*self._versioned(request.name))

    def _access_secret_version(self, request: Any) -> Any:
        with self._lock:
            record, version = self._versioned(request.name)
            name = self._version_name(record, version)
            if version.state != "ENABLED" or version.data is None:
                raise _precondition(f"Secret Version [{name}] is in {version.state} state.")
            unusable = sorted(version.kms_keys & self._unusable_kms_keys)
            if unusable:
                # Documented: data encrypted with a disabled or destroyed CMEK key "cannot be
                # decrypted and therefore is unaccessible". The status code is not documented.
                raise _precondition(
                    f"Secret Version [{name}] cannot be decrypted: its CMEK key [{unusable[0]}] "
                    "is disabled or destroyed."
                )
            data = version.data
        return secretmanager_v1.AccessSecretVersionResponse(
            name=name,
            payload=secretmanager_v1.SecretPayload(
                data=data, data_crc32c=google_crc32c.value(data)
            ),
        )

    def _list_secret_versions(self, request: Any) -> Any:
        matches = _predicate(request.filter, _version_restriction)
        size = _page_size(request.page_size)
        after = _decode_token("versions", request.page_token)
        with self._lock:
            record = self._secret(request.parent)
            page, token = _newest_first_page(
                (v for v in record.versions.values() if matches(v)),
                _version_sort_key,
                after=after,
                page_size=size,
                kind="versions",
            )
            return secretmanager_v1.ListSecretVersionsResponse(
                versions=[self._version_message(record, v) for v in page],
                next_page_token=token,
                total_size=0 if request.filter else len(record.versions),
            )

    def _change_state(self, request: Any, state: _State) -> Any:
        with self._lock:
            record, version = self._versioned(request.name, aliases=False)
            name = self._version_name(record, version)
            regional = record.key.location is not None
            self._limit(
                version.state_changes,
                REGIONAL_VERSION_STATE_LIMIT if regional else VERSION_STATE_LIMIT,
                _VERSION_STATE_CHANGES.format(name),
            )
            self._check_etag(request.etag, version.etag, f"Secret Version [{name}]")
            if version.state == "DESTROYED":
                raise _precondition(f"Secret Version [{name}] is in DESTROYED state.")
            ttl = _version_destroy_ttl(record.meta)
            if state == "DESTROYED" and (ttl or version.scheduled_destroy_time is not None):
                self._schedule_destroy(version, ttl)
            else:
                self._set_state(version, state)
            return self._version_message(record, version)

    # -- Locations (google.cloud.location.Locations, the client's get_location/list_locations) --

    def _location_message(self, project: str, location: str) -> Any:
        return locations_pb2.Location(
            name=f"projects/{project}/locations/{location}", location_id=location
        )

    def _get_location(self, request: Any) -> Any:
        project, location = self._parse(_LOCATION_NAME, request.name, "location")
        if not self._serves(location):
            raise _not_found(
                f"Location [{request.name}] not found: Secret Manager does not serve {location!r}."
            )
        return self._location_message(project, location)

    def _list_locations(self, request: Any) -> Any:
        (project,) = self._parse(_PROJECT_NAME, request.name, "project")
        if request.filter:
            raise _invalid("the emulator cannot filter locations")
        size = _page_size(request.page_size)
        after = _decode_location_token(request.page_token)
        served = self._locations
        if served is None:
            # Every well-formed id is served, which cannot be listed: list those in use.
            with self._lock:
                served = frozenset(k.location for k in self._secrets if k.location is not None)
        ordered = sorted(loc for loc in served if after is None or loc > after)
        page, rest = ordered[:size], ordered[size:]
        return locations_pb2.ListLocationsResponse(
            locations=[self._location_message(project, loc) for loc in page],
            next_page_token=_encode_location_token(page[-1]) if rest and page else "",
        )

    def _reachable(self, request: Any) -> None:
        """Before a SecretManagerService RPC runs: a regional name must carry a well-formed
        location id (INVALID_ARGUMENT) for a location that is served. For one that is not, the
        real client's endpoint secretmanager.L.rep.googleapis.com does not resolve and the call
        fails UNAVAILABLE before reaching any server; the emulator answers the same."""
        resource = _resource(request)
        match = _REGIONAL_PREFIX.match(resource)
        if match is None:
            return
        location = match.group(1)
        _check_location(location, resource)
        if not self._serves(location):
            raise EmulatorError(
                grpc.StatusCode.UNAVAILABLE,
                f"DNS resolution failed for secretmanager.{location}.rep.googleapis.com: Secret "
                f"Manager has no endpoint for location {location!r}.",
            )

    # -- gRPC plumbing -----------------------------------------------------------------------

    def _add_handlers(self, server: grpc.Server) -> None:
        sm = secretmanager_v1
        serialize_empty = empty_pb2.Empty.SerializeToString
        table: dict[str, tuple[Callable[[Any], Any], Any, Callable[[Any], bytes]]] = {
            "CreateSecret": (self._create_secret, sm.CreateSecretRequest, sm.Secret.serialize),
            "GetSecret": (self._get_secret, sm.GetSecretRequest, sm.Secret.serialize),
            "UpdateSecret": (self._update_secret, sm.UpdateSecretRequest, sm.Secret.serialize),
            "DeleteSecret": (self._delete_secret, sm.DeleteSecretRequest, serialize_empty),
            "ListSecrets": (
                self._list_secrets,
                sm.ListSecretsRequest,
                sm.ListSecretsResponse.serialize,
            ),
            "AddSecretVersion": (
                self._add_secret_version,
                sm.AddSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "GetSecretVersion": (
                self._get_secret_version,
                sm.GetSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "AccessSecretVersion": (
                self._access_secret_version,
                sm.AccessSecretVersionRequest,
                sm.AccessSecretVersionResponse.serialize,
            ),
            "ListSecretVersions": (
                self._list_secret_versions,
                sm.ListSecretVersionsRequest,
                sm.ListSecretVersionsResponse.serialize,
            ),
            "EnableSecretVersion": (
                lambda r: self._change_state(r, "ENABLED"),
                sm.EnableSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "DisableSecretVersion": (
                lambda r: self._change_state(r, "DISABLED"),
                sm.DisableSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "DestroySecretVersion": (
                lambda r: self._change_state(r, "DESTROYED"),
                sm.DestroySecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
        }
        # Methods missing from the table (IAM, RotateSecret, ...) get UNIMPLEMENTED from gRPC.
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                method: grpc.unary_unary_rpc_method_handler(
                    self._rpc(method, fn),
                    request_deserializer=request_type.deserialize,
                    response_serializer=serialize,
                )
                for method, (fn, request_type, serialize) in table.items()
            },
        )
        # The Locations mixin is served on the global endpoint, so no endpoint check.
        locations = grpc.method_handlers_generic_handler(
            LOCATIONS_SERVICE,
            {
                "GetLocation": grpc.unary_unary_rpc_method_handler(
                    self._rpc("GetLocation", self._get_location, regional_endpoint=False),
                    request_deserializer=locations_pb2.GetLocationRequest.FromString,
                    response_serializer=locations_pb2.Location.SerializeToString,
                ),
                "ListLocations": grpc.unary_unary_rpc_method_handler(
                    self._rpc("ListLocations", self._list_locations, regional_endpoint=False),
                    request_deserializer=locations_pb2.ListLocationsRequest.FromString,
                    response_serializer=locations_pb2.ListLocationsResponse.SerializeToString,
                ),
            },
        )
        server.add_generic_rpc_handlers((handler, locations))

    def _rpc(
        self, method: str, handler: Callable[[Any], Any], *, regional_endpoint: bool = True
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def run(request: Any) -> Any:
            if regional_endpoint:
                self._reachable(request)
            return handler(request)

        def serve(request: Any, context: grpc.ServicerContext) -> Any:
            return self._serve_call(
                method, context, lambda: run(request), resource=_resource(request)
            )

        return serve


def _resource(request: Any) -> str:
    """The secret or version a request names, for the call log."""
    for attribute in ("name", "parent"):
        value = getattr(request, attribute, None)
        if isinstance(value, str) and value:
            return value
    secret = getattr(request, "secret", None)
    return str(getattr(secret, "name", "") or "")


# ---------------------------------------------------------------------------------------------
# Command line.


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(
        "devtools.emulators.secret_manager",
        "Serve an in-memory Secret Manager over plaintext gRPC until SIGINT/SIGTERM.",
        default_port=8085,
    )
    parser.add_argument(
        "--project-number",
        action="append",
        default=[],
        metavar="ID=NUMBER",
        help="map a project id to its number (repeatable); others get a derived number",
    )
    return parser.parse_args(argv)


def _project_numbers(pairs: Sequence[str]) -> Iterator[tuple[str, str]]:
    for pair in pairs:
        project, sep, number = pair.partition("=")
        if not sep or not number.isdigit():
            raise SystemExit(f"--project-number wants ID=NUMBER, got {pair!r}")
        yield project, number


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    emulator = SecretManagerEmulator(project_numbers=dict(_project_numbers(args.project_number)))
    return serve_until_signalled(
        emulator, "secret-manager emulator", host=args.host, port=args.port
    )


if __name__ == "__main__":
    sys.exit(main())
