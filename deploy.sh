#!/usr/bin/env bash
# Deploy the Momento key rotation function to Google Cloud, or tear it down.
#
#   ./deploy.sh --project my-project --secrets momento-api-key
#   ./deploy.sh --help
#
# Every step checks the current state first, so running it again changes nothing
# (and redeploys the function only when its source or settings changed).
set -euo pipefail

# ------------------------------------------------------------------------------ fixed facts

# What the function does with each secret it rotates, and nothing more. This list is the
# custom role granted on each named secret; docs/deploy.md says why each one is needed.
ROTATOR_PERMISSIONS=(
  secretmanager.secrets.get      # read the lease annotation and the secret's etag
  secretmanager.secrets.update   # write the lease annotation (compare-and-swap on the etag)
  secretmanager.versions.access  # read the latest token JSON
  secretmanager.versions.add     # store the refreshed key and refresh token
  secretmanager.versions.get     # a version's state and etag: why 'latest' can't be read,
                                 # and whether a refused disable lost a race
  secretmanager.versions.list    # find superseded versions for the retention sweep
  secretmanager.versions.disable # retention sweep: disable superseded versions
)
readonly ROTATOR_PERMISSIONS

# With --destroy-after only: the function destroys disabled versions a second window after their
# retention ended. Destroying is irreversible, so the role holds it only when asked for.
DESTROYER_PERMISSIONS=(
  secretmanager.versions.destroy # DESTROY_AFTER: destroy long-disabled versions (never the latest)
)
readonly DESTROYER_PERMISSIONS

# With --label: the function lists the secrets carrying the label, so it needs this one permission
# at project level (IAM conditions cannot match a secret's labels). A second custom role.
LISTER_PERMISSIONS=(
  secretmanager.secrets.list # find the secrets carrying ROTATION_LABEL
)
readonly LISTER_PERMISSIONS

REQUIRED_APIS=(
  cloudfunctions.googleapis.com
  run.googleapis.com
  cloudbuild.googleapis.com
  artifactregistry.googleapis.com
  cloudscheduler.googleapis.com
  secretmanager.googleapis.com
  iam.googleapis.com
  logging.googleapis.com    # the log-based failure metrics
  monitoring.googleapis.com # the alert policies
)
readonly REQUIRED_APIS
# With --rotation-period: Secret Manager publishes to a Pub/Sub topic, and an Eventarc trigger
# delivers each message to the event function.
readonly SCHEDULE_APIS=(pubsub.googleapis.com eventarc.googleapis.com)

readonly ENTRY_POINT=rotate
readonly EVENT_ENTRY_POINT=rotate_event
readonly EVENT_SUFFIX=-event
readonly PUBLISHER_ROLE=roles/pubsub.publisher
# Secret Manager's rotation_period bounds (resources.proto Rotation.rotation_period), and the
# first notification: an hour after the deploy (Secret Manager wants at least 5 minutes ahead).
readonly MIN_ROTATION_PERIOD_S=3600
readonly MAX_ROTATION_PERIOD_S=3153600000
readonly FIRST_ROTATION_DELAY_S=3600
# Cloud Functions' limit for event-driven functions ("Function timeout").
readonly MAX_EVENT_TIMEOUT_S=540
readonly INVOKER_ROLE=roles/run.invoker
readonly JOB_BODY='{}'
readonly JOB_BODY_BASE64=e30=
readonly JOB_RETRIES=3
readonly JOB_MIN_BACKOFF=60s
readonly JOB_MAX_BACKOFF=600s
readonly JOB_MAX_DOUBLINGS=3
readonly JOB_DESCRIPTION="Rotates Momento API keys in Secret Manager (deploy.sh)"
readonly FINGERPRINT_LABEL=deploy-fingerprint
# Alert policy creation waits for a new log-based metric to reach Cloud Monitoring: up to 10 min.
readonly POLICY_ATTEMPTS=32
readonly DASHBOARD_CONSOLE=https://console.cloud.google.com/monitoring/dashboards/builder
# The job's default schedule: every 6 hours, often enough for the dead-man's switch below (a run
# that refreshes nothing costs one access and two reads per secret).
readonly DEFAULT_SCHEDULE='0 */6 * * *'
# The dead-man's switch: Cloud Monitoring's metric-absence condition waits at least 120 s, a
# whole number of minutes, and at most 23.5 hours (alert.proto MetricAbsence.duration; "Create
# metric-absence alerting policies"). It fires when no result has come for the schedule's longest
# gap plus SWITCH_MARGIN_S: the job's retries and log delivery, the function's own RETRY_MARGIN
# (rotation/rules/schedule.py).
readonly MIN_ABSENCE_S=120
readonly MAX_ABSENCE_S=84600
readonly SWITCH_MARGIN_S=3600
# The key-lifetime histogram: exponential buckets from a minute, 10% apart, up to about 440 days,
# so the alert's threshold is read within 10%.
readonly LIFETIME_BUCKETS='{"exponentialBuckets": {"numFiniteBuckets": 140, "growthFactor": 1.1, "scale": 60}}'

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
readonly DASHBOARD_TEMPLATE=$script_dir/monitoring/dashboard.json

usage() {
  cat <<'EOF'
Usage: ./deploy.sh --project ID (--secrets NAME[,NAME...] | --label KEY=VALUE) [options]
       ./deploy.sh --project ID (--secrets NAME[,NAME...] | --label KEY=VALUE) --teardown
       ./deploy.sh ... --dry-run

Deploys the Momento key rotation function (Cloud Functions gen2, private) and a Cloud
Scheduler job that calls it every 6 hours. In order, each step checking first so a re-run
changes nothing:
  1. enable the APIs it needs, and check that Secret Manager serves each location named;
  2. with --seed-from: create the secret if missing and add the file as its first version;
  3. create a service account for the function and one for the scheduler;
  4. create a custom role with only the permissions the function needs, and grant it to
     the function's account on each named secret, global or regional (nothing at project
     level);
  5. deploy the function, running as its own account, with no unauthenticated access;
  6. allow only the scheduler's account to invoke it;
  7. create or update the scheduler job (POST, OIDC token, retries);
  8. with --rotation-period: a Pub/Sub topic Secret Manager may publish to, a second function
     (NAME-event) triggered by it, and a rotation schedule on each secret;
  9. log-based metrics of the results (failed ones; all, by action and severity; each key's
     remaining lifetime), and alert policies: any failure; a key refreshed but not stored; no
     result for longer than the schedule allows (the dead-man's switch); a key with less than
     --alert-expiry-below left. All sent to --alert-channel if given;
 10. a Cloud Monitoring dashboard (monitoring/dashboard.json): each key's remaining lifetime,
     the runs by outcome, and the state of each alert policy;
 11. where your credentials can read the keys: the function's own status check, naming any
     secret whose schedule can't keep its key alive.

Each option falls back to the environment variable in brackets, then to the default.

Required:
  --project ID              Google Cloud project.                  [GOOGLE_CLOUD_PROJECT]
  --secrets LIST            Secret Manager secrets to rotate, comma-separated, each NAME or
                            projects/ID/secrets/NAME (a global secret), or
                            projects/ID/locations/LOCATION/secrets/NAME (a regional secret,
                            served by LOCATION's endpoint, which deploy.sh uses for it); all in
                            --project. Optional with --label.      [ROTATION_SECRETS]
  --label KEY=VALUE         Also rotate every secret carrying this label (Secret Manager's label
                            rules). Each one found gets the function's role; the function lists
                            them itself (one more role, secretmanager.secrets.list on the
                            project). A secret labelled later is readable after a re-run.
                                                                   [ROTATION_LABEL]
  --locations LIST          With --label: also look for labelled regional secrets in these
                            locations, comma-separated (us-central1,europe-west4); global
                            ones are always looked for.            [ROTATION_LOCATIONS]

Rotation (passed to the function; first checked by its own parser, rotation/faces/check.py):
  --refresh-before DUR      Refresh a key this long before it expires (90m, 72h, 3d, 3600s).
                                                                   [REFRESH_BEFORE; 3d]
  --retention DUR           Keep superseded versions enabled this long. [RETENTION; 7d]
  --min-enabled-versions N  Never leave fewer enabled versions.    [MIN_ENABLED_VERSIONS; 1]
  --destroy-after DUR       Destroy a disabled version once its retention ended this long ago
                            (30d); never the latest, an aliased or an enabled one. Adds
                            secretmanager.versions.destroy to the function's role; a re-run
                            without it takes that away again.     [DESTROY_AFTER; off]
  --function-dry-run        Deploy the function in dry-run mode: it reports, writes nothing.
                                                                   [FUNCTION_DRY_RUN; false]
  --reads-per-minute N      Most Secret Manager reads (get, list) the function sends in any
                            minute; the project allows 600, shared. [SECRET_MANAGER_READS_PER_MINUTE; 300]
  --writes-per-minute N     Most Secret Manager writes (add, update, disable) the function sends
                            in any minute; the project allows 600. [SECRET_MANAGER_WRITES_PER_MINUTE; 300]

Schedule:
  --schedule CRON           When the job runs: unix-cron, 5 fields (not Cloud Scheduler's
                            English-like form). Also passed to the function, which refreshes
                            a key now if it would not outlive the next run. At most 22h30m
                            between runs keeps the dead-man's switch on.
                                                                   [ROTATION_SCHEDULE; 0 */6 * * *]
  --time-zone TZ            Time zone of the schedule (tz database). [ROTATION_TIME_ZONE; Etc/UTC]
  --job-name NAME           Cloud Scheduler job name.              [SCHEDULER_JOB; function name]
  --no-scheduler            No job (deletes one found), and so no dead-man's switch; needs
                            --rotation-period.                     [ROTATION_SCHEDULER=false]
  --rotation-period DUR     Secret Manager's own rotation schedule on each secret, every DUR
                            (1h to 100 years: 720h, 30d, 86400s; first one an hour from now).
                            Adds a Pub/Sub topic, the function NAME-event (entry point
                            rotate_event, Pub/Sub trigger, retried on failure). The job stays
                            (it is the heartbeat the dead-man's switch listens for). [ROTATION_PERIOD]
  --topic TOPIC             Pub/Sub topic for the schedule.        [ROTATION_TOPIC; momento-key-rotation]

Alerting:
  --alert-channel NAME      projects/ID/notificationChannels/ID the alert policies notify
                            (without it they are created with no channel). [ALERT_CHANNEL]
  --alert-expiry-below DUR  Alert when a key has less than this left (90m, 24h, 2d).
                                                                   [ALERT_EXPIRY_BELOW; 24h]

Function:
  --region REGION           Region of the function and the job.    [GOOGLE_CLOUD_REGION; us-central1]
  --function-name NAME      Function name.                         [FUNCTION_NAME; momento-key-rotation]
  --runtime RUNTIME         Python runtime.                        [FUNCTION_RUNTIME; python312]
  --memory SIZE             Memory per instance, 128Mi-32Gi.       [FUNCTION_MEMORY; 256Mi]
  --timeout SECONDS         Request timeout, 1-3600.               [FUNCTION_TIMEOUT; 300]
  --source DIR              Folder holding main.py, requirements.txt and rotation/.
                                                                   [SOURCE_DIR; this script's folder]
  --build-service-account EMAIL
                            Account Cloud Build uses to build the function (default: the
                            project's default build account).      [BUILD_SERVICE_ACCOUNT]
  --force-deploy            Redeploy even if source and settings are unchanged.

Identities:
  --function-account ID     Account the function runs as.          [FUNCTION_ACCOUNT; momento-key-rotator]
  --scheduler-account ID    Account the job calls the function as. [SCHEDULER_ACCOUNT; momento-key-rotation-invoker]
  --role-id ID              Custom role holding the function's permissions.
                                                                   [ROTATOR_ROLE_ID; momentoKeyRotator]
  --lister-role-id ID       Custom role (secretmanager.secrets.list, project level), --label only.
                                                                   [LISTER_ROLE_ID; momentoKeySecretLister]

Seeding:
  --seed-from FILE          The JSON file Momento's console downloads (apiKey and
                            refreshToken). Creates the secret if missing and adds the file as
                            its first version; never overwrites a secret that has versions.
                            The file is passed to gcloud by path, never on a command line, and
                            first checked by the function's own parser (malformed, v2 and
                            expired keys are refused).
                                                                   [SEED_FROM]
  --seed-secret NAME        Which secret to seed (default: the only one in --secrets); a
                            regional one by its full name. A regional secret is created with
                            no replication policy (its data stays in its location).
                                                                   [SEED_SECRET]

Modes:
  --dry-run                 Print every gcloud command it would run; run none.
  --teardown                Remove the job, both functions, the rotation schedules and topic,
                            the grants, the dashboard, the metrics and alert policies, the
                            custom roles and both accounts. Secrets and their data stay.
  -h, --help                Show this help.

Examples:
  ./deploy.sh --project my-project --secrets momento-api-key --seed-from ~/Downloads/key.json
  ./deploy.sh --project my-project --secrets momento-api-key --dry-run
  ./deploy.sh --project my-project \
    --secrets projects/my-project/locations/europe-west4/secrets/momento-api-key
  ./deploy.sh --project my-project --label rotation=momento --locations europe-west4,us-central1
  ./deploy.sh --project my-project --label rotation=momento --rotation-period 30d \
    --alert-channel projects/my-project/notificationChannels/123
  gcloud scheduler jobs run momento-key-rotation --location us-central1 --project my-project
  ./deploy.sh --project my-project --secrets momento-api-key --teardown
EOF
}

# ------------------------------------------------------------------------------ helpers

die() {
  printf 'deploy.sh: error: %s\n' "$*" >&2
  exit 1
}

usage_error() {
  printf 'deploy.sh: %s\nRun ./deploy.sh --help for the options.\n' "$*" >&2
  exit 2
}

say() { printf '%s\n' "$*"; }

warn() { printf 'deploy.sh: warning: %s\n' "$*" >&2; }

step() { printf '\n==> %s\n' "$*"; }

# Print arguments as one shell-quoted command line that can be pasted back into a shell.
quote_command() {
  local arg line="" plain='^[A-Za-z0-9_./:=,@%+-]+$'
  for arg in "$@"; do
    if [[ $arg =~ $plain ]]; then
      line+="$arg "
    else
      line+="'${arg//\'/\'\\\'\'}' "
    fi
  done
  printf '%s' "${line% }"
}

# A regional secret (projects/P/locations/L/secrets/S) is served only by L's regional endpoint.
# gcloud addresses it as `gcloud secrets ... S --location=L`, but sends that to the Secret Manager
# endpoint it is configured with (the global one unless told otherwise), and the global endpoint
# refuses regional names. Google's regional-secrets pages ("Create a regional secret", "Manage
# access to regional secrets") have gcloud users point api_endpoint_overrides/secretmanager at
# the regional endpoint first: deploy.sh does that for each such command, through gcloud's
# CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER, and for nothing else.
regional_endpoint() { printf 'https://secretmanager.%s.rep.googleapis.com/' "$1"; }

# endpoint_for ARGS...: the endpoint a gcloud command must reach, if not the configured one: for
# `secrets ... --location=L` (a regional secret, or listing one location's), L's regional endpoint.
endpoint_for() {
  local arg
  [[ ${1:-} == secrets ]] || return 0
  for arg in "$@"; do
    if [[ $arg == --location=* ]]; then
      regional_endpoint "${arg#--location=}"
      return 0
    fi
  done
}

# gcloud_at ARGS...: gcloud ARGS, at the endpoint endpoint_for gives, if any.
gcloud_at() {
  local endpoint
  endpoint=$(endpoint_for "$@")
  if [[ -n $endpoint ]]; then
    CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER=$endpoint gcloud "$@"
  else
    gcloud "$@"
  fi
}

# command_line ARGS...: the gcloud command as it can be pasted into a shell, with the regional
# endpoint in front when it needs one.
command_line() {
  local endpoint
  endpoint=$(endpoint_for "$@")
  [[ -z $endpoint ]] || printf 'CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER=%s ' "$endpoint"
  quote_command gcloud "$@"
}

# Print a command: "+" for one that changes something, "?" for a read-only check.
show() { printf '  + %s\n' "$(command_line "$@")"; }
show_check() { printf '  ? %s\n' "$(command_line "$@")"; }

# Run a gcloud command that changes something. Its resource output is dropped (gcloud reports
# progress on stderr); in --dry-run it is only printed.
run() {
  show "$@"
  [[ $dry_run == true ]] && return 0
  gcloud_at "$@" >/dev/null
}

# Like run, but retried a few times: IAM takes a while to see a newly created account.
run_with_retries() {
  local attempt
  show "$@"
  [[ $dry_run == true ]] && return 0
  for attempt in 1 2 3 4; do
    if gcloud_at "$@" >/dev/null; then return 0; fi
    [[ $attempt == 4 ]] && break
    say "  (retrying in $((attempt * 5))s: IAM changes take a moment to propagate)"
    sleep $((attempt * 5))
  done
  die "gcloud $1 $2 failed 4 times; see the messages above"
}

# query VAR ARGS...: run a read-only gcloud command and store its output in VAR.
# Returns 0 when the resource exists and 1 when gcloud reports it missing; any other failure
# (permission denied, API disabled, ...) stops the script with gcloud's message. In --dry-run
# it prints the command and reports "missing", so the plan shows every create.
query() {
  local into=$1 out
  shift
  printf -v "$into" '%s' ""
  if [[ $dry_run == true ]]; then
    show_check "$@"
    return 1
  fi
  if out=$(gcloud_at "$@" 2>"$err_file"); then
    printf -v "$into" '%s' "$out"
    return 0
  fi
  if grep -qiE 'NOT_FOUND|not found|status=\[404\]' "$err_file"; then
    return 1
  fi
  cat "$err_file" >&2
  die "gcloud $1 $2 failed (above); fix that and run deploy.sh again"
}

# present VAR ARGS...: query, but in --dry-run assume the resource exists (to plan its removal).
present() { query "$@" || [[ $dry_run == true ]]; }

# human SECONDS: 90061 -> 1d1h1m1s, 0 -> 0s
human() {
  local left=$1 out="" unit size
  for unit in d:86400 h:3600 m:60 s:1; do
    size=${unit#*:}
    if ((left >= size)); then
      out+="$((left / size))${unit%:*}"
      left=$((left % size))
    fi
  done
  printf '%s' "${out:-0s}"
}

# Bounds the function's status check after a deploy, where coreutils' timeout exists.
timeout_command=()
if command -v timeout >/dev/null 2>&1; then timeout_command=(timeout 300); fi

contains_line() { # contains_line TEXT LINE: whether LINE is one of TEXT's lines
  printf '%s\n' "$1" | grep -Fxq -- "$2"
}

sorted_csv() { tr ',' '\n' | LC_ALL=C sort -u | paste -sd, -; }

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum | cut -c1-64
  else
    shasum -a 256 | cut -c1-64
  fi
}

# ------------------------------------------------------------------------------ options

# Options from the environment first; flags below override them.
project=${GOOGLE_CLOUD_PROJECT:-}
region=${GOOGLE_CLOUD_REGION:-us-central1}
secrets_csv=${ROTATION_SECRETS:-}
refresh_before=${REFRESH_BEFORE:-3d}
retention=${RETENTION:-7d}
min_enabled_versions=${MIN_ENABLED_VERSIONS:-1}
destroy_after=${DESTROY_AFTER:-}
function_dry_run=${FUNCTION_DRY_RUN:-false}
reads_per_minute=${SECRET_MANAGER_READS_PER_MINUTE:-300}
writes_per_minute=${SECRET_MANAGER_WRITES_PER_MINUTE:-300}
schedule=${ROTATION_SCHEDULE:-$DEFAULT_SCHEDULE}
time_zone=${ROTATION_TIME_ZONE:-Etc/UTC}
function_name=${FUNCTION_NAME:-momento-key-rotation}
job_name=${SCHEDULER_JOB:-}
runtime=${FUNCTION_RUNTIME:-python312}
memory=${FUNCTION_MEMORY:-256Mi}
timeout=${FUNCTION_TIMEOUT:-300}
source_dir=${SOURCE_DIR:-$script_dir}
build_service_account=${BUILD_SERVICE_ACCOUNT:-}
function_account=${FUNCTION_ACCOUNT:-momento-key-rotator}
scheduler_account=${SCHEDULER_ACCOUNT:-momento-key-rotation-invoker}
role_id=${ROTATOR_ROLE_ID:-momentoKeyRotator}
seed_from=${SEED_FROM:-}
seed_secret=${SEED_SECRET:-}
seeded=false
rotation_label=${ROTATION_LABEL:-}
locations_csv=${ROTATION_LOCATIONS:-}
rotation_period=${ROTATION_PERIOD:-}
topic=${ROTATION_TOPIC:-momento-key-rotation}
scheduler=${ROTATION_SCHEDULER:-true}
alert_channel=${ALERT_CHANNEL:-}
alert_expiry_below=${ALERT_EXPIRY_BELOW:-24h}
lister_role_id=${LISTER_ROLE_ID:-momentoKeySecretLister}
force_deploy=false
dry_run=false
teardown=false

args=("$@")
i=0
# take: the current option's value, from --option=value or from the next argument.
take() {
  [[ $inline == true ]] && return 0
  ((i + 1 < ${#args[@]})) || usage_error "$option needs a value"
  i=$((i + 1))
  value=${args[i]}
}
while ((i < ${#args[@]})); do
  option=${args[i]}
  value=""
  inline=false
  if [[ $option == --*=* ]]; then
    value=${option#*=}
    option=${option%%=*}
    inline=true
  fi
  case $option in
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run) dry_run=true ;;
    --teardown) teardown=true ;;
    --force-deploy) force_deploy=true ;;
    --function-dry-run) function_dry_run=true ;;
    --no-scheduler) scheduler=false ;;
    --label) take && rotation_label=$value ;;
    --locations) take && locations_csv=$value ;;
    --rotation-period) take && rotation_period=$value ;;
    --topic) take && topic=$value ;;
    --alert-channel) take && alert_channel=$value ;;
    --alert-expiry-below) take && alert_expiry_below=$value ;;
    --lister-role-id) take && lister_role_id=$value ;;
    --project) take && project=$value ;;
    --region) take && region=$value ;;
    --secrets) take && secrets_csv=$value ;;
    --refresh-before) take && refresh_before=$value ;;
    --retention) take && retention=$value ;;
    --min-enabled-versions) take && min_enabled_versions=$value ;;
    --destroy-after) take && destroy_after=$value ;;
    --reads-per-minute) take && reads_per_minute=$value ;;
    --writes-per-minute) take && writes_per_minute=$value ;;
    --schedule) take && schedule=$value ;;
    --time-zone) take && time_zone=$value ;;
    --function-name) take && function_name=$value ;;
    --job-name) take && job_name=$value ;;
    --runtime) take && runtime=$value ;;
    --memory) take && memory=$value ;;
    --timeout) take && timeout=$value ;;
    --source) take && source_dir=$value ;;
    --build-service-account) take && build_service_account=$value ;;
    --function-account) take && function_account=$value ;;
    --scheduler-account) take && scheduler_account=$value ;;
    --role-id) take && role_id=$value ;;
    --seed-from) take && seed_from=$value ;;
    --seed-secret) take && seed_secret=$value ;;
    --*) usage_error "unknown option: $option" ;;
    *) usage_error "unexpected argument: $option" ;;
  esac
  i=$((i + 1))
done

# ------------------------------------------------------------------------------ validation
# Checked here: what only deploy.sh knows (where and how to deploy). The function's own
# settings (the environment variables it is deployed with) and the --seed-from file are checked
# further down by the function's own code, rotation/faces/check.py: one validator, so deploy.sh
# refuses exactly what the function would refuse at start, with the function's message.

[[ -n $project ]] || usage_error "--project is required (or set GOOGLE_CLOUD_PROJECT)"
[[ -n $secrets_csv || -n $rotation_label ]] ||
  usage_error "--secrets is required (or set ROTATION_SECRETS), unless --label is given"

matches() { [[ $1 =~ $2 ]]; }
check() { # check VALUE REGEX MESSAGE
  matches "$1" "$2" || usage_error "$3"
}

check "$project" '^[a-z][-a-z0-9.:]*[a-z0-9]$' "--project '$project' is not a project ID"
check "$region" '^[a-z]+-[a-z]+[0-9]+$' "--region '$region' is not a region (like us-central1)"
# Cloud Functions' CreateFunctionRequest.function_id: 4-63 characters of a-z, 0-9 and -.
check "$function_name" '^[a-z][-a-z0-9]{2,61}[a-z0-9]$' \
  "--function-name '$function_name': 4-63 lowercase letters, digits and -, starting with a letter"
job_name=${job_name:-$function_name}
check "$job_name" '^[A-Za-z0-9_-]{1,500}$' "--job-name '$job_name': letters, digits, - and _"
check "$runtime" '^python3[0-9]+$' "--runtime '$runtime': a Python runtime such as python312"
memory_form="a size from 128Mi to 32Gi, such as 256Mi or 1Gi"
check "$memory" '^[0-9]{1,6}(Mi|Gi|M|G)$' "--memory '$memory': $memory_form"
case $memory in
  *Mi) memory_bytes=$((10#${memory%Mi} * 1024 * 1024)) ;;
  *Gi) memory_bytes=$((10#${memory%Gi} * 1024 * 1024 * 1024)) ;;
  *M) memory_bytes=$((10#${memory%M} * 1000 * 1000)) ;;
  *) memory_bytes=$((10#${memory%G} * 1000 * 1000 * 1000)) ;;
esac
((memory_bytes >= 128 * 1000 * 1000 && memory_bytes <= 32 * 1024 * 1024 * 1024)) ||
  usage_error "--memory '$memory': $memory_form"
check "$timeout" '^[0-9]+$' "--timeout '$timeout': whole seconds, 1-3600"
((timeout >= 1 && timeout <= 3600)) || usage_error "--timeout '$timeout': whole seconds, 1-3600"
[[ -n $schedule ]] || usage_error "--schedule must not be empty"
[[ -n $time_zone ]] || usage_error "--time-zone must not be empty"
for account_id in "$function_account" "$scheduler_account"; do
  check "$account_id" '^[a-z][-a-z0-9]{4,28}[a-z0-9]$' \
    "account ID '$account_id': 6-30 lowercase letters, digits and -, starting with a letter"
done
[[ $function_account != "$scheduler_account" ]] ||
  usage_error "--function-account and --scheduler-account must differ: each has one job"
check "$role_id" '^[A-Za-z0-9_.]{3,64}$' "--role-id '$role_id': 3-64 letters, digits, _ and ."
check "$lister_role_id" '^[A-Za-z0-9_.]{3,64}$' \
  "--lister-role-id '$lister_role_id': 3-64 letters, digits, _ and ."
[[ $lister_role_id != "$role_id" ]] || usage_error "--lister-role-id and --role-id must differ"
case $scheduler in
  true | false) ;;
  *) usage_error "ROTATION_SCHEDULER='$scheduler': true or false (--no-scheduler sets false)" ;;
esac

# --rotation-period: a whole number of s, m, h or d, sent to gcloud in seconds.
rotation_period_s=""
if [[ -n $rotation_period ]]; then
  period_form="1h to 100 years, a whole number with s, m, h or d (such as 30d or 720h);"
  period_form+=" Secret Manager refuses rotation periods under an hour"
  check "$rotation_period" '^[0-9]{1,10}[smhd]$' "--rotation-period '$rotation_period': $period_form"
  period_number=$((10#${rotation_period%?}))
  case $rotation_period in
    *s) rotation_period_s=$period_number ;;
    *m) rotation_period_s=$((period_number * 60)) ;;
    *h) rotation_period_s=$((period_number * 3600)) ;;
    *d) rotation_period_s=$((period_number * 86400)) ;;
  esac
  ((rotation_period_s >= MIN_ROTATION_PERIOD_S && rotation_period_s <= MAX_ROTATION_PERIOD_S)) ||
    usage_error "--rotation-period '$rotation_period': $period_form"
  # Cloud Functions' function id: at most 63 characters, so the name leaves room for "-event".
  ((${#function_name} + ${#EVENT_SUFFIX} <= 63)) ||
    usage_error "--function-name '$function_name': at most $((63 - ${#EVENT_SUFFIX})) characters" \
      "with --rotation-period (the event function is $function_name$EVENT_SUFFIX)"
  ((timeout <= MAX_EVENT_TIMEOUT_S)) ||
    usage_error "--timeout '$timeout': at most $MAX_EVENT_TIMEOUT_S with --rotation-period" \
      "(the event function's limit)"
elif [[ $scheduler == false ]]; then
  usage_error "--no-scheduler needs --rotation-period: without either, nothing runs the rotation"
fi
# Pub/Sub's Topic.name rule (google/pubsub/v1/pubsub.proto).
check "$topic" '^[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$' \
  "--topic '$topic': 3-255 letters, digits and - _ . ~ + %, starting with a letter"
[[ $topic != [Gg][Oo][Oo][Gg]* ]] || usage_error "--topic '$topic' must not start with \"goog\""
if [[ -n $alert_channel ]]; then
  check "$alert_channel" '^projects/[a-z][-a-z0-9.:]*[a-z0-9]/notificationChannels/[A-Za-z0-9_-]+$' \
    "--alert-channel '$alert_channel': a channel name, projects/PROJECT/notificationChannels/ID"
fi
if [[ -n $build_service_account ]]; then
  check "$build_service_account" '^[^/@]+@[^/@]+$' \
    "--build-service-account '$build_service_account': an account email"
fi

# Secrets: short names (global secrets), or full names in this project, global
# (projects/P/secrets/S, kept as S) or regional (projects/P/locations/L/secrets/S, kept whole and
# passed to the function as given). The custom role lives in this project, and a project-level
# custom role can only be granted on resources inside it. Whether each is a valid secret name,
# and each location a valid location id, is the function's parser's call, below.
readonly REGIONAL_NAME='^projects/([^/]+)/locations/([^/]+)/secrets/([^/]+)$'
# secret_name NAME: the name deploy.sh keeps for NAME: S for a global secret, the full name for
# a regional one. Refuses a full name in another project.
secret_name() {
  local name=$1
  if [[ $name =~ ^projects/([^/]+)/secrets/([^/]+)$ || $name =~ $REGIONAL_NAME ]]; then
    [[ ${BASH_REMATCH[1]} == "$project" ]] ||
      usage_error "secret '$name' is outside --project $project; deploy one function per project"
    [[ $name =~ $REGIONAL_NAME ]] || name=${BASH_REMATCH[2]}
  fi
  printf '%s' "$name"
}
# location_of SECRET: the location of a regional secret; nothing for a global one.
location_of() {
  [[ ! $1 =~ $REGIONAL_NAME ]] || printf '%s' "${BASH_REMATCH[2]}"
}
# refer SECRET: ref=(how gcloud names SECRET): a global secret by its id; a regional one by its
# id and --location=L (which also sends the command to L's endpoint: see endpoint_for).
ref=()
refer() {
  if [[ $1 =~ $REGIONAL_NAME ]]; then
    ref=("${BASH_REMATCH[3]}" "--location=${BASH_REMATCH[2]}")
  else
    ref=("$1")
  fi
}
secrets=()
IFS=',' read -r -a raw_secrets <<<"$secrets_csv"
for name in ${raw_secrets[@]+"${raw_secrets[@]}"}; do
  name=${name//[[:space:]]/}
  [[ -n $name ]] || continue
  name=$(secret_name "$name") || exit
  contains_line "$(printf '%s\n' ${secrets[@]+"${secrets[@]}"})" "$name" || secrets+=("$name")
done
((${#secrets[@]} > 0)) || [[ -n $rotation_label ]] || usage_error "--secrets names no secret"
secrets_joined=$(IFS=','; printf '%s' "${secrets[*]}")

# --locations: where --label also looks for regional secrets (the function's ROTATION_LOCATIONS;
# its parser checks each id, and that --label is given).
label_locations=()
IFS=',' read -r -a raw_locations <<<"$locations_csv"
for name in ${raw_locations[@]+"${raw_locations[@]}"}; do
  name=${name//[[:space:]]/}
  [[ -z $name ]] || contains_line "$(printf '%s\n' ${label_locations[@]+"${label_locations[@]}"})" \
    "$name" || label_locations+=("$name")
done
locations_joined=$(IFS=','; printf '%s' "${label_locations[*]+"${label_locations[*]}"}")

[[ -f $source_dir/main.py && -f $source_dir/requirements.txt && -f $source_dir/rotation/faces/check.py &&
  -f $source_dir/momento_key_common/__init__.py ]] ||
  usage_error "--source '$source_dir' needs main.py, requirements.txt, rotation/ and" \
    "momento_key_common/: point it at the function's folder"
source_dir=$(cd "$source_dir" && pwd)

# The environment variables the function is deployed with, exactly (deploy_function joins them
# into --set-env-vars).
function_env=("GOOGLE_CLOUD_PROJECT=$project")
[[ -z $secrets_joined ]] || function_env+=("ROTATION_SECRETS=$secrets_joined")
[[ -z $rotation_label ]] || function_env+=("ROTATION_LABEL=$rotation_label")
[[ -z $locations_joined ]] || function_env+=("ROTATION_LOCATIONS=$locations_joined")
function_env+=(
  "REFRESH_BEFORE=$refresh_before"
  "RETENTION=$retention"
  "MIN_ENABLED_VERSIONS=$min_enabled_versions"
  "DRY_RUN=$function_dry_run"
  "SECRET_MANAGER_READS_PER_MINUTE=$reads_per_minute"
  "SECRET_MANAGER_WRITES_PER_MINUTE=$writes_per_minute"
  "FUNCTION_TIMEOUT=${timeout}s"
)
[[ -z $destroy_after ]] || function_env+=("DESTROY_AFTER=$destroy_after")
# The job's schedule, so the function knows when its next run comes (and refreshes a key now that
# would not outlive it). Without a job there is no schedule to pass.
if [[ $scheduler == true ]]; then
  function_env+=("ROTATION_SCHEDULE=$schedule" "ROTATION_TIME_ZONE=$time_zone")
fi

# The function's own checks run in a local Python 3.11+ (the one gcloud is told to use, when
# CLOUDSDK_PYTHON is set). rotation/faces/check.py needs only the standard library.
python=${CLOUDSDK_PYTHON:-python3}
python_needed="deploy.sh checks the settings with the function's own code, which needs Python 3.11 or newer"
python_path=$(command -v "$python" 2>/dev/null) ||
  die "$python_needed; '$python' was not found: install python3, or set CLOUDSDK_PYTHON to a Python 3.11+"
[[ $python_path == /* ]] || python_path=$PWD/$python_path
python_version=$("$python_path" -E -s -S -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' \
  2>/dev/null) || python_version=unknown
"$python_path" -E -s -S -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
  die "$python_needed; $python_path is Python $python_version: install a newer python3, or set" \
    "CLOUDSDK_PYTHON to a Python 3.11+"

# run_check ARG...: run "python -m rotation.faces.check ARG..." from the source folder, in an
# environment holding only check_env (no PYTHON* variables, no site packages, no bytecode
# written into the source folder). Sets check_status, and check_message to what it printed on
# stderr without its "rotation: " prefix.
check_env=()
run_check() {
  check_status=0
  check_message=$(cd "$source_dir" && env -i ${check_env[@]+"${check_env[@]}"} \
    "$python_path" -B -E -s -S -X utf8 -m rotation.faces.check "$@" 2>&1 >/dev/null) || check_status=$?
  check_message=${check_message#rotation: }
}

# setting_source MESSAGE: the deploy.sh option (and variable) behind the function setting that
# MESSAGE from the function's config parser names first.
setting_source() {
  case ${1%%[!A-Z_]*} in
    GOOGLE_CLOUD_PROJECT) printf '%s' "--project (GOOGLE_CLOUD_PROJECT)" ;;
    ROTATION_SECRETS) printf '%s' "--secrets (ROTATION_SECRETS)" ;;
    ROTATION_LABEL) printf '%s' "--label (ROTATION_LABEL)" ;;
    ROTATION_LOCATIONS) printf '%s' "--locations (ROTATION_LOCATIONS)" ;;
    REFRESH_BEFORE) printf '%s' "--refresh-before (REFRESH_BEFORE)" ;;
    RETENTION) printf '%s' "--retention (RETENTION)" ;;
    MIN_ENABLED_VERSIONS) printf '%s' "--min-enabled-versions (MIN_ENABLED_VERSIONS)" ;;
    DESTROY_AFTER) printf '%s' "--destroy-after (DESTROY_AFTER)" ;;
    DRY_RUN) printf '%s' "--function-dry-run (FUNCTION_DRY_RUN)" ;;
    SECRET_MANAGER_READS_PER_MINUTE)
      printf '%s' "--reads-per-minute (SECRET_MANAGER_READS_PER_MINUTE)" ;;
    SECRET_MANAGER_WRITES_PER_MINUTE)
      printf '%s' "--writes-per-minute (SECRET_MANAGER_WRITES_PER_MINUTE)" ;;
    FUNCTION_TIMEOUT) printf '%s' "--timeout (FUNCTION_TIMEOUT)" ;;
    ROTATION_SCHEDULE) printf '%s' "--schedule (ROTATION_SCHEDULE)" ;;
    ROTATION_TIME_ZONE) printf '%s' "--time-zone (ROTATION_TIME_ZONE)" ;;
    *) printf '%s' "the function's settings" ;;
  esac
}

check_env=("${function_env[@]}")
run_check config
case $check_status in
  # A warning (the write budget can't refresh every secret within --timeout) goes on; say it.
  0) [[ -z $check_message ]] || printf 'deploy.sh: warning: %s\n' "$check_message" >&2 ;;
  2) usage_error "$(setting_source "$check_message"): $check_message" ;;
  *)
    printf '%s\n' "$check_message" >&2
    die "could not check the function's settings: $python_path -m rotation.faces.check config" \
      "exited $check_status in $source_dir (output above)"
    ;;
esac

# --alert-expiry-below, read by the function's own duration parser (rotation/rules/durations.py), and
# REFRESH_BEFORE (already checked above) in seconds, for the warnings below.
readonly DURATION_SECONDS='import sys
from rotation.rules.durations import parse_duration
for text in sys.argv[1:]:
    try:
        print(int(parse_duration(text).total_seconds()))
    except ValueError as error:
        print(f"{text[:80]!r}: {error}", file=sys.stderr)
        sys.exit(2)'
durations_status=0
durations=$(cd "$source_dir" && env -i "$python_path" -B -E -s -S -X utf8 -c "$DURATION_SECONDS" \
  "$alert_expiry_below" "$refresh_before" 2>&1) || durations_status=$?
case $durations_status in
  0) ;;
  2) usage_error "--alert-expiry-below (ALERT_EXPIRY_BELOW): $durations" ;;
  *)
    printf '%s\n' "$durations" >&2
    die "could not read the durations with the function's parser (above)"
    ;;
esac
{ read -r expiry_below_s && read -r refresh_before_s; } <<<"$durations"
((expiry_below_s > 0)) ||
  usage_error "--alert-expiry-below (ALERT_EXPIRY_BELOW): '$alert_expiry_below': expected more than 0"

# The job's schedule: the longest time between two of its runs (over the next two years, in its
# time zone), with the standard library only. Cloud Scheduler's unix-cron: numbers, names (JAN,
# MON), *, ranges, steps and lists; day of month OR day of week when both are restricted (neither
# starts with *), as Debian cron does. Exit 2 naming what it can't read; "none" for fewer than
# two runs in that time.
readonly CRON_GAP='import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
expression, zone = sys.argv[1], ZoneInfo(sys.argv[2])
start = date.fromisoformat(sys.argv[3]) if len(sys.argv) > 3 else datetime.now(zone).date()
FIELDS = ("minute", "hour", "day of month", "month", "day of week")
LOW, HIGH = (0, 0, 1, 1, 0), (59, 23, 31, 12, 7)
NAMES = {3: "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(),
         4: "SUN MON TUE WED THU FRI SAT".split()}
def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)
def refuse(i, text):
    names = " or names" if i in NAMES else ""
    fail(f"{FIELDS[i]} {text!r}: deploy.sh reads numbers {LOW[i]}-{HIGH[i]}{names}, *, "
         "ranges (a-b), steps (/n) and lists (,)")
def number(i, text):
    if text.upper() in NAMES.get(i, ()):
        return NAMES[i].index(text.upper()) + (1 if i == 3 else 0)
    if not (text.isascii() and text.isdigit() and LOW[i] <= int(text) <= HIGH[i]):
        refuse(i, text)
    return int(text)
def values(i, text):
    found = set()
    for term in text.split(","):
        base, slash, step = term.partition("/")
        if slash and not (step.isascii() and step.isdigit() and int(step) > 0):
            refuse(i, term)
        if base == "*":
            low, high = LOW[i], HIGH[i]
        elif "-" in base:
            low, high = (number(i, part) for part in base.split("-", 1))
            if high < low:
                refuse(i, term)
        else:
            low = number(i, base)
            high = HIGH[i] if slash else low
        found.update(range(low, high + 1, int(step) if slash else 1))
    return {day % 7 for day in found} if i == 4 else found
fields = expression.split()
if len(fields) != 5:
    fail(f"{expression!r} is not 5 fields")
minutes, hours, days, months, weekdays = (values(i, text) for i, text in enumerate(fields))
either = not (fields[2].startswith("*") or fields[4].startswith("*"))
times = sorted(hour * 60 + minute for hour in hours for minute in minutes)
inner = max((b - a for a, b in zip(times, times[1:])), default=0) * 60
def runs_on(day):
    if day.month not in months:
        return False
    by_date, by_weekday = day.day in days, day.isoweekday() % 7 in weekdays
    return (by_date or by_weekday) if either else (by_date and by_weekday)
def at(day, minute):
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    return local.timestamp()
longest, last, run_days = 0, None, 0
for n in range(731 + 7):
    day = start + timedelta(days=n)
    if not runs_on(day):
        continue
    run_days += 1
    instants = [at(day, times[0]), at(day, times[-1])]
    if at(day + timedelta(days=1), 0) - at(day, 0) == 86400:
        longest = max(longest, inner)
    else:  # the clocks change that day: each run of it
        instants = [at(day, minute) for minute in times]
        longest = max([longest] + [b - a for a, b in zip(instants, instants[1:])])
    if last is not None:
        longest = max(longest, instants[0] - last)
    last = instants[-1]
print(int(longest) if run_days >= 2 else "none")'

schedule_gap_s=""    # the longest time between two runs of the job, in seconds
absence_s=""         # how long the dead-man's switch waits for a result; empty: no switch
switch_note=""       # why there is no switch
if [[ $scheduler == true ]]; then
  gap_status=0
  schedule_gap=$("$python_path" -E -s -S -X utf8 -c "$CRON_GAP" "$schedule" "$time_zone" 2>&1) ||
    gap_status=$?
  case $gap_status in
    0) ;;
    2) usage_error "--schedule (ROTATION_SCHEDULE): '$schedule': $schedule_gap" ;;
    *)
      printf '%s\n' "$schedule_gap" >&2
      die "could not compute how often --schedule '$schedule' runs (above)"
      ;;
  esac
  if [[ $schedule_gap == none ]]; then
    switch_note="--schedule '$schedule' runs less than twice in two years"
  else
    schedule_gap_s=$schedule_gap
    absence_s=$(((schedule_gap_s + SWITCH_MARGIN_S + 59) / 60 * 60))
    ((absence_s >= MIN_ABSENCE_S)) || absence_s=$MIN_ABSENCE_S
    if ((absence_s > MAX_ABSENCE_S)); then
      switch_note="--schedule '$schedule' leaves up to $(human "$schedule_gap_s") between runs"
      absence_s=""
    fi
    # README (Native rotation schedule and alerting): at least two runs inside REFRESH_BEFORE,
    # so that one failed run still leaves another before the key is due to expire.
    if ((2 * schedule_gap_s > refresh_before_s)) && [[ $teardown == false ]]; then
      warn "--schedule '$schedule' leaves up to" \
        "$(human "$schedule_gap_s") between runs: fewer than two runs fit in --refresh-before" \
        "$refresh_before, so one failed run can leave a key to expire. Use a shorter --schedule" \
        "or a longer --refresh-before."
    fi
  fi
  if [[ -z $absence_s && $teardown == false ]]; then
    warn "$switch_note: too sparse for the dead-man's switch, so" \
      "there is none (Cloud Monitoring waits at most 23h30m for a missing result, and deploy.sh" \
      "adds $(human "$SWITCH_MARGIN_S") for retries and log delivery). Runs at most" \
      "$(human $((MAX_ABSENCE_S - SWITCH_MARGIN_S))) apart keep it, such as the default" \
      "'$DEFAULT_SCHEDULE'."
  fi
else
  switch_note="--no-scheduler: no job, so no regular run to listen for"
fi
if ((expiry_below_s >= refresh_before_s)) && [[ $teardown == false ]]; then
  warn "--alert-expiry-below $alert_expiry_below is not below" \
    "--refresh-before $refresh_before: a key is only refreshed once it has less than" \
    "$refresh_before left, so the key-lifetime alert would fire on healthy keys."
fi

# --seed-from: check the file before anything talks to Google, with the function's own parser
# (malformed, v2 or expired keys are refused). The file is read by path, and a refusal names
# what is wrong with it, never a value.
validate_seed_file() {
  local file=$1 folder
  [[ -f $file && -r $file ]] || die "--seed-from '$file': no such readable file"
  folder=$(cd "$(dirname "$file")" && pwd)
  case "$folder/" in
    "$source_dir"/*)
      die "--seed-from '$file' is inside the function's source folder and could be uploaded" \
        "with it; move it elsewhere (for example ~/Downloads) and try again"
      ;;
  esac
  check_env=()
  run_check document "$folder/$(basename "$file")"
  case $check_status in
    0) ;;
    2) usage_error "--seed-from '$file': $check_message" ;;
    *)
      die "--seed-from '$file': could not check it: $python_path -m rotation.faces.check document" \
        "exited $check_status in $source_dir"
      ;;
  esac
}

if [[ -n $seed_from ]]; then
  [[ $teardown == false ]] || usage_error "--seed-from and --teardown do not go together"
  if [[ -z $seed_secret ]]; then
    ((${#secrets[@]} == 1)) ||
      usage_error "--seed-from with several --secrets: name the one to seed with --seed-secret"
    seed_secret=${secrets[0]}
  fi
  seed_secret=$(secret_name "$seed_secret") || exit
  if ! contains_line "$(printf '%s\n' "${secrets[@]}")" "$seed_secret"; then
    regional_hint=""
    for name in "${secrets[@]}"; do
      [[ $name != */secrets/"$seed_secret" ]] ||
        regional_hint=" (a short name is a global secret: name a regional one in full, as in --secrets)"
    done
    usage_error "--seed-secret '$seed_secret' is not one of --secrets$regional_hint"
  fi
  validate_seed_file "$seed_from"
fi

# ------------------------------------------------------------------------------ preflight

function_sa=$function_account@$project.iam.gserviceaccount.com
scheduler_sa=$scheduler_account@$project.iam.gserviceaccount.com
role_name=projects/$project/roles/$role_id
lister_role_name=projects/$project/roles/$lister_role_id
event_function=$function_name$EVENT_SUFFIX
topic_name=projects/$project/topics/$topic
label_key=${rotation_label%%=*}
label_value=${rotation_label#*=}
# The log-based metrics and alert policies (see ensure_alerting).
failures_metric=$function_name-failures
not_stored_metric=$function_name-not-stored
failures_policy="Momento key rotation failed ($function_name)"
not_stored_policy="Momento key refreshed but not stored ($function_name)"
results_metric=$function_name-results
lifetime_metric=$function_name-key-lifetime
absence_policy="Momento key rotation not running ($function_name)"
expiry_policy="Momento key expiring ($function_name)"
dashboard_id=$function_name
attempt_deadline=$((timeout + 30 > 1800 ? 1800 : timeout + 30))s
common=(--project="$project")
regional=(--project="$project" --region="$region")
scheduled=(--project="$project" --location="$region")

work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT
err_file=$work_dir/gcloud-stderr

if [[ $dry_run == true ]]; then
  say "Dry run: printing the gcloud commands deploy.sh would run, running none."
  say "'?' lines are read-only checks; '+' lines change something. The plan shows what a"
  say "first run does: checks find nothing, so everything is created (teardown: deleted)."
else
  command -v gcloud >/dev/null 2>&1 ||
    die "gcloud is not installed or not on PATH; install the Google Cloud CLI" \
      "(https://cloud.google.com/sdk/docs/install) and run deploy.sh again"
  if [[ -z ${CLOUDSDK_AUTH_ACCESS_TOKEN:-} && -z ${CLOUDSDK_AUTH_ACCESS_TOKEN_FILE:-} ]]; then
    account=$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null) ||
      account=""
    [[ -n $account ]] ||
      die "gcloud is not logged in; run 'gcloud auth login' (or activate a service account) and try again"
    say "Using gcloud as $account on project $project."
  fi
fi

# ------------------------------------------------------------------------------ deploy steps

enable_apis() {
  step "Enable the APIs"
  local enabled missing=() api wanted=("${REQUIRED_APIS[@]}")
  [[ -z $rotation_period ]] || wanted+=("${SCHEDULE_APIS[@]}")
  query enabled services list --enabled "${common[@]}" --format='value(config.name)' || true
  for api in "${wanted[@]}"; do
    contains_line "$enabled" "$api" || missing+=("$api")
  done
  if ((${#missing[@]} == 0)); then
    say "  all enabled"
  else
    run services enable "${missing[@]}" "${common[@]}"
  fi
}

# A regional secret is created without a replication policy: its data stays in its location
# (its REST resource has no replication field, and gcloud refuses --replication-policy with
# --location).
seed_secret_from_file() {
  step "Seed secret $seed_secret from $seed_from"
  local found versions replication=(--replication-policy=automatic)
  refer "$seed_secret"
  [[ -z $(location_of "$seed_secret") ]] || replication=()
  if ! query found secrets describe "${ref[@]}" "${common[@]}" --format='value(name)'; then
    run secrets create "${ref[@]}" "${common[@]}" ${replication[@]+"${replication[@]}"}
  fi
  query versions secrets versions list "${ref[@]}" "${common[@]}" --limit=1 \
    --format='value(name)' || true
  if [[ -n $versions ]]; then
    say "  $seed_secret already has versions; not seeding (the function keeps it fresh)"
  else
    run secrets versions add "${ref[@]}" "${common[@]}" --data-file="$seed_from"
    seeded=true
  fi
}

# check_locations: before anything is created, that Secret Manager serves each location named by
# a regional secret or --locations. A location it doesn't serve has no endpoint (its host never
# resolves), so every call there would fail as a network error, forever. Asked of the Locations
# API, on the global endpoint; no list of locations is kept here.
check_locations() {
  local wanted=() location secret found named
  for secret in ${secrets[@]+"${secrets[@]}"}; do
    location=$(location_of "$secret")
    if [[ -n $location ]] && ! contains_line "$(printf '%s\n' ${wanted[@]+"${wanted[@]}"})" \
      "$location"; then
      wanted+=("$location")
    fi
  done
  for location in ${label_locations[@]+"${label_locations[@]}"}; do
    if ! contains_line "$(printf '%s\n' ${wanted[@]+"${wanted[@]}"})" "$location"; then
      wanted+=("$location")
    fi
  done
  ((${#wanted[@]} > 0)) || return 0
  step "Check that Secret Manager serves each location (${wanted[*]})"
  for location in "${wanted[@]}"; do
    if query found secrets locations describe "$location" "${common[@]}" \
      --format='value(locationId)'; then
      say "  $location: served"
    elif [[ $dry_run == false ]]; then
      named=()
      for secret in ${secrets[@]+"${secrets[@]}"}; do
        [[ $(location_of "$secret") != "$location" ]] ||
          named+=("secret '$secret' (--secrets, ROTATION_SECRETS)")
      done
      if contains_line "$(printf '%s\n' ${label_locations[@]+"${label_locations[@]}"})" \
        "$location"; then
        named+=("--locations (ROTATION_LOCATIONS)")
      fi
      die "Secret Manager does not serve location '$location', named by" \
        "$(join_words "${named[@]}"): it has no regional endpoint there. Check the location;" \
        "'gcloud secrets locations list --project $project' lists those Secret Manager serves."
    fi
  done
}

join_words() { # join_words A B C: "A, B and C"
  local out=$1
  shift
  while (($# > 1)); do
    out+=", $1"
    shift
  done
  (($# == 0)) || out+=" and $1"
  printf '%s' "$out"
}

check_secrets_exist() {
  step "Check the secrets exist"
  local secret found
  for secret in "${secrets[@]}"; do
    [[ $secret == "$seed_secret" ]] && continue
    refer "$secret"
    query found secrets describe "${ref[@]}" "${common[@]}" --format='value(name)' ||
      [[ $dry_run == true ]] ||
      die "secret '$secret' does not exist in project $project; create it with" \
        "--seed-from FILE (the JSON from Momento's console), or check --secrets"
  done
  [[ $dry_run == true ]] || ((${#secrets[@]} == 0)) || say "  found: ${secrets[*]}"
}

# discover_labelled_secrets: the secrets carrying --label, added to managed_secrets (the named
# ones first, no repeats). Each gets the function's role and, with --rotation-period, a schedule.
# With --locations, also the regional secrets carrying it in each of those locations (ListSecrets
# is per location), kept by their full names (with the project id; Secret Manager answers with
# the project number).
managed_secrets=()
discover_labelled_secrets() {
  managed_secrets=(${secrets[@]+"${secrets[@]}"})
  [[ -n $rotation_label ]] || return 0
  step "Find the secrets labelled $rotation_label$([[ -z $locations_joined ]] ||
    echo " (global, and regional in $locations_joined)")"
  local found name location listed=""
  query found secrets list "${common[@]}" --filter="labels.$label_key=$label_value" \
    --format='value(name)' || true
  listed+=$(while IFS= read -r name; do [[ -z $name ]] || echo "${name##*/}"; done <<<"$found")
  for location in ${label_locations[@]+"${label_locations[@]}"}; do
    query found secrets list --location="$location" "${common[@]}" \
      --filter="labels.$label_key=$label_value" --format='value(name)' || true
    while IFS= read -r name; do
      [[ -z $name ]] || listed+=$'\n'"projects/$project/locations/$location/secrets/${name##*/}"
    done <<<"$found"
  done
  while IFS= read -r name; do
    [[ -n $name ]] || continue
    contains_line "$(printf '%s\n' ${managed_secrets[@]+"${managed_secrets[@]}"})" "$name" ||
      managed_secrets+=("$name")
  done <<<"$listed"
  if [[ $dry_run == true ]]; then
    managed_secrets+=(SECRET_WITH_LABEL)
    for location in ${label_locations[@]+"${label_locations[@]}"}; do
      managed_secrets+=("projects/$project/locations/$location/secrets/SECRET_WITH_LABEL")
    done
    say "  # SECRET_WITH_LABEL below stands for each secret these list"
  elif ((${#managed_secrets[@]} == 0)); then
    say "  none yet: label one, then run deploy.sh again to grant the function access to it"
  else
    say "  managing: ${managed_secrets[*]}"
  fi
}

ensure_account() { # ensure_account ID EMAIL PURPOSE
  local found
  if query found iam service-accounts describe "$2" "${common[@]}" --format='value(email)'; then
    say "  $2 exists"
  else
    run iam service-accounts create "$1" "${common[@]}" \
      --display-name="Momento key rotation: $3" \
      --description="$3 (created by deploy.sh)"
  fi
}

# ensure_role ID OPTION TITLE DESCRIPTION PERMISSION...: a custom role holding exactly these.
ensure_role() {
  local id=$1 option=$2 title=$3 description=$4 found deleted permissions want
  shift 4
  want=$(IFS=','; printf '%s' "$*" | sorted_csv)
  if ! query found iam roles describe "$id" "${common[@]}" \
    --format='value[separator="|"](deleted,includedPermissions.list())'; then
    run iam roles create "$id" "${common[@]}" --quiet --stage=GA \
      --title="$title" --description="$description" --permissions="$want" ||
      die "could not create role projects/$project/roles/$id (above). A custom role ID stays" \
        "reserved for about 37 days after deletion: pass $option with a new ID"
    return 0
  fi
  IFS='|' read -r deleted permissions <<<"$found"
  if [[ $deleted == [Tt]rue ]]; then
    run iam roles undelete "$id" "${common[@]}" --quiet
  fi
  if [[ $(printf '%s' "$permissions" | sorted_csv) != "$want" ]]; then
    run iam roles update "$id" "${common[@]}" --quiet --permissions="$want"
  else
    say "  role projects/$project/roles/$id has exactly the permissions needed"
  fi
}

ensure_rotator_role() {
  local permissions=("${ROTATOR_PERMISSIONS[@]}")
  [[ -z $destroy_after ]] || permissions+=("${DESTROYER_PERMISSIONS[@]}")
  ensure_role "$role_id" --role-id "Momento key rotator" \
    "Read, add and retire versions of the Momento key secrets, and hold their rotation lease (deploy.sh)" \
    "${permissions[@]}"
}

# With --label: the function lists the labelled secrets, which needs secrets.list on the project.
grant_lister_role() {
  [[ -n $rotation_label ]] || return 0
  step "Grant $lister_role_name (secretmanager.secrets.list only) to $function_sa on the project"
  ensure_role "$lister_role_id" --lister-role-id "Momento key secret lister" \
    "List secrets, to find those labelled for Momento key rotation (deploy.sh)" \
    "${LISTER_PERMISSIONS[@]}"
  local policy
  query policy projects get-iam-policy "$project" \
    --flatten='bindings[].members' --format='value(bindings.role,bindings.members)' || true
  if contains_line "$policy" "$lister_role_name"$'\t'"serviceAccount:$function_sa"; then
    say "  already granted"
  else
    run_with_retries projects add-iam-policy-binding "$project" --condition=None \
      --member="serviceAccount:$function_sa" --role="$lister_role_name"
  fi
}

grant_on_secrets() {
  local secret policy
  for secret in ${managed_secrets[@]+"${managed_secrets[@]}"}; do
    refer "$secret"
    query policy secrets get-iam-policy "${ref[@]}" "${common[@]}" \
      --flatten='bindings[].members' --format='value(bindings.role,bindings.members)' || true
    if contains_line "$policy" "$role_name"$'\t'"serviceAccount:$function_sa"; then
      say "  $secret: already granted"
    else
      run_with_retries secrets add-iam-policy-binding "${ref[@]}" "${common[@]}" \
        --member="serviceAccount:$function_sa" --role="$role_name"
    fi
  done
}

# describe_function VAR NAME: VAR="STATE|FINGERPRINT|URL|SERVICE" of function NAME; 1 if
# missing. (A "|" separator, because read collapses empty tab-separated fields.)
describe_function() {
  query "$1" functions describe "$2" --gen2 "${regional[@]}" \
    --format="value[separator='|'](state,labels.$FINGERPRINT_LABEL,serviceConfig.uri,serviceConfig.service)"
}

# deploy_function NAME ENTRY_POINT TRIGGER_ARG...: deploy one function (same source, account and
# settings for both), unless its fingerprint label says it is up to date. Sets
# function_description to its describe_function line when it was up to date.
deploy_function() {
  local name=$1 entry_point=$2 env_vars args found state deployed fingerprint files file
  shift 2
  function_description=""
  # "^@^": the list is @-separated (no value can hold an @: the function's parser refused any).
  env_vars="^@^$(IFS=@; printf '%s' "${function_env[*]}")"
  args=(functions deploy "$name" --gen2 "${regional[@]}"
    --runtime="$runtime" --source="$source_dir" --entry-point="$entry_point" "$@"
    --no-allow-unauthenticated --service-account="$function_sa"
    --set-env-vars="$env_vars" --max-instances=1 --memory="$memory" --timeout="${timeout}s")
  if [[ -n $build_service_account ]]; then
    args+=(--build-service-account="projects/$project/serviceAccounts/$build_service_account")
  fi

  if [[ $dry_run == true ]]; then
    describe_function found "$name" || true
    show_check meta list-files-for-upload "$source_dir"
    say "  # FINGERPRINT = sha256 of the settings below and of each file listed above"
    run "${args[@]}" --update-labels="$FINGERPRINT_LABEL=FINGERPRINT"
    return 0
  fi

  # A fingerprint of the settings and of every file gcloud would upload, kept as a label, so
  # a re-run with nothing changed does not rebuild and roll out a new revision.
  files=$(gcloud meta list-files-for-upload "$source_dir" | LC_ALL=C sort)
  fingerprint=$(
    {
      printf '%s\0' "${args[@]}"
      while IFS= read -r file; do
        [[ -n $file ]] || continue
        printf '%s\0' "$file"
        sha256 <"$source_dir/$file"
      done <<<"$files"
    } | sha256 | cut -c1-40
  )

  if describe_function found "$name"; then
    IFS='|' read -r state deployed _ <<<"$found"
    if [[ $state == ACTIVE && $deployed == "$fingerprint" && $force_deploy == false ]]; then
      say "  up to date (same source and settings); --force-deploy redeploys anyway"
      function_description=$found
      return 0
    fi
  fi
  run "${args[@]}" --update-labels="$FINGERPRINT_LABEL=$fingerprint"
}

function_description=""
function_url=""
function_service=""
# read_function_endpoint NAME: function_url and function_service of the function just deployed.
read_function_endpoint() {
  local name=$1 found=$function_description
  if [[ $dry_run == true ]]; then
    describe_function found "$name" || true
    function_url="FUNCTION_URL"
    function_service=$name
    say "  # FUNCTION_URL = serviceConfig.uri from the describe above"
    return 0
  fi
  [[ -n $found ]] || describe_function found "$name" ||
    die "function $name is missing right after deploying it"
  IFS='|' read -r _ _ function_url function_service <<<"$found"
  function_service=${function_service##*/}
  [[ -n $function_url && -n $function_service ]] ||
    die "function $name has no URL yet; run deploy.sh again in a minute"
}

# allow_scheduler_only: on function_service, roles/run.invoker for the invoker account only (the
# scheduler's OIDC token, and the Eventarc trigger's push, both come as that account).
allow_scheduler_only() {
  step "Allow only $scheduler_sa to invoke $function_service"
  local policy line role member
  query policy run services get-iam-policy "$function_service" "${regional[@]}" \
    --flatten='bindings[].members' --format='value(bindings.role,bindings.members)' || true
  while IFS=$'\t' read -r role member; do
    [[ -n $member ]] || continue
    case $member in
      allUsers | allAuthenticatedUsers)
        run run services remove-iam-policy-binding "$function_service" "${regional[@]}" \
          --member="$member" --role="$role"
        ;;
      "serviceAccount:$scheduler_sa") ;;
      *)
        [[ $role == "$INVOKER_ROLE" ]] &&
          say "  note: $member may also invoke it (left alone; remove it if unintended)"
        ;;
    esac
  done <<<"$policy"
  line=$INVOKER_ROLE$'\t'"serviceAccount:$scheduler_sa"
  if contains_line "$policy" "$line"; then
    say "  $scheduler_sa already allowed"
  else
    run_with_retries run services add-iam-policy-binding "$function_service" "${regional[@]}" \
      --member="serviceAccount:$scheduler_sa" --role="$INVOKER_ROLE"
  fi
}

ensure_job() {
  step "Schedule job $job_name ($schedule, $time_zone)"
  local found want verb
  local fields=(schedule timeZone httpTarget.uri httpTarget.httpMethod httpTarget.body
    httpTarget.oidcToken.serviceAccountEmail httpTarget.oidcToken.audience attemptDeadline
    retryConfig.retryCount retryConfig.minBackoffDuration retryConfig.maxBackoffDuration
    retryConfig.maxDoublings description)
  local values=("$schedule" "$time_zone" "$function_url" POST "$JOB_BODY_BASE64"
    "$scheduler_sa" "$function_url" "$attempt_deadline"
    "$JOB_RETRIES" "$JOB_MIN_BACKOFF" "$JOB_MAX_BACKOFF"
    "$JOB_MAX_DOUBLINGS" "$JOB_DESCRIPTION")
  want=$(IFS=$'\t'; printf '%s' "${values[*]}")
  if query found scheduler jobs describe "$job_name" "${scheduled[@]}" \
    --format="value($(IFS=','; printf '%s' "${fields[*]}"))"; then
    if [[ $found == "$want" ]]; then
      say "  up to date"
      return 0
    fi
    verb=(update http "$job_name" --update-headers=Content-Type=application/json)
  else
    verb=(create http "$job_name" --headers=Content-Type=application/json)
  fi
  run scheduler jobs "${verb[@]}" "${scheduled[@]}" \
    --schedule="$schedule" --time-zone="$time_zone" \
    --uri="$function_url" --http-method=POST --message-body="$JOB_BODY" \
    --oidc-service-account-email="$scheduler_sa" --oidc-token-audience="$function_url" \
    --attempt-deadline="$attempt_deadline" --max-retry-attempts="$JOB_RETRIES" \
    --min-backoff="$JOB_MIN_BACKOFF" --max-backoff="$JOB_MAX_BACKOFF" \
    --max-doublings="$JOB_MAX_DOUBLINGS" --description="$JOB_DESCRIPTION"
}

# remove_job: with --no-scheduler, the daily job goes (Secret Manager's schedule triggers instead).
remove_job() {
  step "No scheduler job (--no-scheduler): delete $job_name if there is one"
  local found
  if query found scheduler jobs describe "$job_name" "${scheduled[@]}" --format='value(name)'; then
    run scheduler jobs delete "$job_name" "${scheduled[@]}" --quiet
  else
    say "  none"
  fi
}

# ensure_topic: the Pub/Sub topic, and roles/pubsub.publisher on it (on that topic only) for
# Secret Manager's service agent, which publishes the rotation notices.
ensure_topic() {
  step "Pub/Sub topic $topic_name, which Secret Manager's service agent may publish to"
  local found number agent policy
  if query found pubsub topics describe "$topic" "${common[@]}" --format='value(name)'; then
    say "  $topic_name exists"
  else
    run pubsub topics create "$topic" "${common[@]}"
  fi
  query number projects describe "$project" --format='value(projectNumber)' || true
  if [[ -z $number ]]; then
    [[ $dry_run == true ]] || die "could not read the project number of $project"
    number=PROJECT_NUMBER
  fi
  agent=service-$number@gcp-sa-secretmanager.iam.gserviceaccount.com
  query policy pubsub topics get-iam-policy "$topic" "${common[@]}" \
    --flatten='bindings[].members' --format='value(bindings.role,bindings.members)' || true
  if contains_line "$policy" "$PUBLISHER_ROLE"$'\t'"serviceAccount:$agent"; then
    say "  $agent may already publish"
  else
    # Creates Secret Manager's service agent if the project has none yet (else returns it).
    run beta services identity create --service=secretmanager.googleapis.com "${common[@]}"
    run_with_retries pubsub topics add-iam-policy-binding "$topic" "${common[@]}" \
      --member="serviceAccount:$agent" --role="$PUBLISHER_ROLE"
  fi
}

first_rotation_time() { # now + FIRST_ROTATION_DELAY_S, RFC 3339 UTC
  "$python_path" -E -s -S -c 'import datetime as d, sys
when = d.datetime.now(d.timezone.utc) + d.timedelta(seconds=int(sys.argv[1]))
print(when.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$FIRST_ROTATION_DELAY_S"
}

# secret_topics VAR SECRET: VAR = "PERIOD|NEXT_TIME|TOPICS" of the secret; 1 if it is missing.
secret_topics() {
  local described
  refer "$2"
  query described secrets describe "${ref[@]}" "${common[@]}" \
    --format='value[separator="|"](rotation.rotationPeriod,rotation.nextRotationTime,topics.map().extract(name).flatten())' ||
    return 1
  printf -v "$1" '%s' "$described"
}

# ours TOPICS: the line of TOPICS naming this deploy's topic (Secret Manager may return it with
# the project number or id, so match by topic id; the topic is always in this project).
ours() {
  local line
  while IFS= read -r line; do
    [[ $line == */topics/"$topic" ]] && printf '%s' "$line" && return 0
  done <<<"$1"
  return 1
}

# ensure_rotation_schedules: Secret Manager's own schedule on each secret, publishing to the topic.
ensure_rotation_schedules() {
  step "Rotation schedule on each secret: every ${rotation_period_s}s, notices to $topic_name"
  local secret found period next topics want=${rotation_period_s}s next_time add
  next_time=$(first_rotation_time)
  for secret in ${managed_secrets[@]+"${managed_secrets[@]}"}; do
    add=(--add-topics="$topic_name")
    if secret_topics found "$secret"; then
      IFS='|' read -r period next topics <<<"$found"
      topics=$(tr ',;' '\n' <<<"$topics")
      if ours "$topics" >/dev/null; then
        add=()
        if [[ $period == "$want" && -n $next ]]; then
          say "  $secret: up to date (next: $next)"
          continue
        fi
      fi
    fi
    refer "$secret"
    run secrets update "${ref[@]}" "${common[@]}" ${add[@]+"${add[@]}"} \
      --next-rotation-time="$next_time" --rotation-period="$want"
  done
  [[ $dry_run == false ]] || say "  # --next-rotation-time: now + ${FIRST_ROTATION_DELAY_S}s, in UTC"
}

deploy_event_function() {
  step "Deploy function $event_function (gen2, private, Pub/Sub trigger on $topic, retried)"
  deploy_function "$event_function" "$EVENT_ENTRY_POINT" --trigger-topic="$topic" --retry \
    --trigger-service-account="$scheduler_sa"
  read_function_endpoint "$event_function"
  allow_scheduler_only
}

# ------------------------------------------------------------------------------ alerting
# Each run logs one jsonPayload.event="rotation.result" line per secret: ERROR when it failed
# (CRITICAL for a key refreshed but not stored), with the action, the secret and the key's
# seconds_left. Log-based metrics count and measure those lines, and alert policies watch them.

metric_filter() { # metric_filter [TEST]: the rotation.result lines of both functions
  printf '%s AND %s AND %s' 'resource.type="cloud_run_revision"' \
    "resource.labels.service_name=(\"$function_name\" OR \"$event_function\")" \
    'jsonPayload.event="rotation.result"'
  [[ -z ${1:-} ]] || printf ' AND %s' "$1"
}

ensure_metric() { # ensure_metric NAME SEVERITY_TEST DESCRIPTION: a counter of matching lines
  local name=$1 filter description=$3 found
  filter=$(metric_filter "$2")
  if query found logging metrics describe "$name" "${common[@]}" \
    --format='value[separator="|"](filter,description)'; then
    if [[ $found == "$filter|$description" ]]; then
      say "  metric $name: up to date"
      return 0
    fi
    run logging metrics update "$name" "${common[@]}" --log-filter="$filter" \
      --description="$description"
  else
    run logging metrics create "$name" "${common[@]}" --log-filter="$filter" \
      --description="$description"
  fi
}

# The log-based metrics with labels or values, as JSON (argv: kind, description, filter).
# "results" counts every result line, labelled by action and severity; "lifetime" is the
# distribution of seconds_left (the latest key's remaining lifetime), labelled by secret. A label
# of the default type (STRING) leaves valueType out, as the service does when it answers.
readonly METRIC_JSON='import json, sys
kind, description, log_filter = sys.argv[1:4]
metric = {"description": description, "filter": log_filter}
if kind == "results":
    metric["metricDescriptor"] = {
        "metricKind": "DELTA",
        "valueType": "INT64",
        "unit": "1",
        "labels": [
            {"key": "action", "description": "refreshed, skipped or failed"},
            {"key": "severity", "description": "the severity of the result line"},
        ],
    }
    metric["labelExtractors"] = {
        "action": "EXTRACT(jsonPayload.action)",
        "severity": "EXTRACT(severity)",
    }
else:
    metric["metricDescriptor"] = {
        "metricKind": "DELTA",
        "valueType": "DISTRIBUTION",
        "unit": "s",
        "labels": [{"key": "secret", "description": "the secret, as the function names it"}],
    }
    metric["valueExtractor"] = "EXTRACT(jsonPayload.seconds_left)"
    metric["labelExtractors"] = {"secret": "EXTRACT(jsonPayload.secret)"}
    metric["bucketOptions"] = json.loads(sys.argv[4])
print(json.dumps(metric, indent=1))'

# COVERS: covers(have, want) says whether HAVE holds every field of WANT with the same value.
# Fields the service adds are ignored; an absent field equals an empty or zero one (proto3
# leaves those out).
readonly COVERS='def covers(have, want):
    if have is None and want in ([], {}, 0, False, ""):
        return True
    if isinstance(want, dict):
        return isinstance(have, dict) and all(covers(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(covers, have, want))
    return have == want
'

# "same" when the resource on stdin (JSON) holds every field of FILE, else "differs".
readonly ONE_COMPARE="import json, sys
$COVERS
print('same' if covers(json.load(sys.stdin), json.load(open(sys.argv[1]))) else 'differs')"

python_snippet() { "$python_path" -E -s -S -c "$@"; }

# ensure_metric_config NAME KIND DESCRIPTION: a metric of METRIC_JSON's KIND, compared field by
# field, created or updated with --config-from-file.
ensure_metric_config() {
  local name=$1 file=$work_dir/metric-$1.json found
  python_snippet "$METRIC_JSON" "$2" "$3" "$(metric_filter)" "$LIFETIME_BUCKETS" >"$file"
  if query found logging metrics describe "$name" "${common[@]}" --format=json; then
    if [[ $(python_snippet "$ONE_COMPARE" "$file" <<<"$found") == same ]]; then
      say "  metric $name: up to date"
      return 0
    fi
    run logging metrics update "$name" "${common[@]}" --config-from-file="$file"
  else
    run logging metrics create "$name" "${common[@]}" --config-from-file="$file"
  fi
  [[ $dry_run == false ]] || say "  # $file: $(tr -d '\n' <"$file")"
}

# The alert policy deploy.sh wants, as JSON (argv: kind, display name, severity, channel or "",
# documentation, metric, then the kind's own). "count": any failed result (a count above 0).
# "absent" (service, seconds, what): no result from the service for that long: the dead-man's
# switch, summed over every label and revision so that a new revision or an idle label is no
# absence. "below" (seconds): a key's remaining lifetime under the threshold, per secret (the
# 5th percentile of a distribution is read from its buckets).
readonly POLICY_JSON='import json, sys
kind, name, severity, channel, doc, metric, *rest = sys.argv[1:]
metric_filter = f"metric.type=\"logging.googleapis.com/user/{metric}\" AND resource.type=\"cloud_run_revision\""
if kind == "count":
    condition = {"displayName": f"{metric} > 0", "conditionThreshold": {
        "filter": metric_filter,
        "comparison": "COMPARISON_GT",
        "thresholdValue": 0,
        "duration": "0s",
        "aggregations": [
            {"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_DELTA", "crossSeriesReducer": "REDUCE_SUM"}
        ],
        "trigger": {"count": 1},
    }}
elif kind == "absent":
    service, seconds, what = rest
    condition = {"displayName": f"no result from {service} for {what}", "conditionAbsent": {
        "filter": f"{metric_filter} AND resource.label.service_name=\"{service}\"",
        "aggregations": [
            {"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_DELTA", "crossSeriesReducer": "REDUCE_SUM"}
        ],
        "duration": f"{seconds}s",
        "trigger": {"count": 1},
    }}
else:
    seconds, what = rest
    condition = {"displayName": f"a key has less than {what} left", "conditionThreshold": {
        "filter": metric_filter,
        "comparison": "COMPARISON_LT",
        "thresholdValue": int(seconds),
        "duration": "0s",
        "aggregations": [
            {
                "alignmentPeriod": "300s",
                "perSeriesAligner": "ALIGN_PERCENTILE_05",
                "crossSeriesReducer": "REDUCE_MIN",
                "groupByFields": ["metric.label.secret"],
            }
        ],
        "trigger": {"count": 1},
    }}
policy = {
    "displayName": name,
    "documentation": {"content": doc, "mimeType": "text/markdown"},
    "combiner": "OR",
    "conditions": [condition],
    "notificationChannels": [channel] if channel else [],
    "severity": severity,
    "enabled": True,
}
print(json.dumps(policy, indent=1))'

# For each policy listed (JSON on stdin), "NAME same" when it holds every field of FILE with the
# same value, else "NAME differs".
readonly POLICY_COMPARE="import json, sys
$COVERS
want = json.load(open(sys.argv[1]))
for policy in json.load(sys.stdin) or []:
    print(policy['name'], 'same' if covers(policy, want) else 'differs')"

# create_policy VAR FILE: create the policy in FILE; VAR = its name. Cloud Monitoring refuses a
# policy on a log-based metric it does not know yet, and a new one "could take up to 10 minutes
# to become available" (its own words, 404 "Cannot find metric(s)"): wait and try again.
create_policy() {
  local into=$1 out attempt wait_s args=(alpha monitoring policies create "${common[@]}"
    --policy-from-file="$2")
  show "${args[@]}"
  printf -v "$into" '%s' POLICY_NAME
  [[ $dry_run == true ]] && return 0
  for attempt in $(seq 1 "$POLICY_ATTEMPTS"); do
    if out=$(gcloud "${args[@]}" --format='value(name)' 2>"$err_file"); then
      printf -v "$into" '%s' "$out"
      return 0
    fi
    if ! grep -q 'Cannot find metric' "$err_file" || ((attempt == POLICY_ATTEMPTS)); then
      cat "$err_file" >&2
      die "could not create the alert policy in $2 (above)"
    fi
    wait_s=$((attempt < 3 ? attempt * 5 : 20))
    say "  (Cloud Monitoring does not know the new metric yet; retrying in ${wait_s}s, for up to 10 minutes)"
    sleep "$wait_s"
  done
}

# ensure_policy DISPLAY_NAME KIND METRIC SEVERITY DOCUMENTATION [ARG...]: the policy of
# POLICY_JSON's KIND, created or updated to match; policy_name = its resource name.
policy_name=""
ensure_policy() {
  local display=$1 file=$work_dir/policy-$2-$3.json found verdict name state
  python_snippet "$POLICY_JSON" "$2" "$display" "$4" "$alert_channel" "$5" "$3" "${@:6}" >"$file"
  query found alpha monitoring policies list "${common[@]}" \
    --filter="displayName=\"$display\"" --format=json || true
  verdict=$(python_snippet "$POLICY_COMPARE" "$file" <<<"${found:-[]}")
  read -r name state <<<"$verdict"
  if (($(grep -c . <<<"$verdict") > 1)); then
    say "  note: several policies are named '$display'; deploy.sh keeps $name up to date"
  fi
  if [[ -z $name ]]; then
    create_policy name "$file"
  elif [[ $state == same ]]; then
    say "  policy '$display': up to date"
    policy_name=$name
    return 0
  else
    run alpha monitoring policies update "$name" "${common[@]}" --policy-from-file="$file"
  fi
  policy_name=$name
  [[ $dry_run == false ]] || say "  # $file: $(tr -d '\n' <"$file")"
}

remove_policies() { # remove_policies DISPLAY_NAME: delete every policy of that name
  local names name
  query names alpha monitoring policies list "${common[@]}" \
    --filter="displayName=\"$1\"" --format='value(name)' || true
  [[ $dry_run == false || $teardown == false ]] || names=POLICY_NAME
  [[ -n $names || $teardown == false ]] || say "  policy '$1': not found"
  while IFS= read -r name; do
    [[ -z $name ]] || run alpha monitoring policies delete "$name" "${common[@]}" --quiet
  done <<<"$names"
}

failures_policy_name=""
not_stored_policy_name=""
absence_policy_name=""
expiry_policy_name=""
ensure_alerting() {
  step "Alerting: metrics and policies$([[ -n $alert_channel ]] && echo ", to $alert_channel")"
  ensure_metric "$failures_metric" 'severity>=ERROR' \
    "Failed Momento key rotation results of $function_name (deploy.sh)"
  ensure_metric "$not_stored_metric" 'severity=CRITICAL' \
    "Momento keys refreshed but not stored by $function_name: act now (deploy.sh)"
  ensure_metric_config "$results_metric" results \
    "Momento key rotation results of $function_name, by action and severity (deploy.sh)"
  ensure_metric_config "$lifetime_metric" lifetime \
    "The remaining lifetime (seconds) of each Momento key $function_name rotates, after each run, by secret (deploy.sh)"
  ensure_policy "$failures_policy" count "$failures_metric" ERROR \
    "A Momento key rotation failed, or left a key that will not stay safe without a person, in \`$function_name\`. Read its logs: \`gcloud functions logs read $function_name --gen2 --region $region --project $project\`; each result at ERROR names the secret, the error or attention code, and what to do (README: What each outcome means)."
  failures_policy_name=$policy_name
  ensure_policy "$not_stored_policy" count "$not_stored_metric" CRITICAL \
    "A Momento key was refreshed but the new key was **not stored** (\`refreshed_not_stored\`) by \`$function_name\`. The old key still works until it expires, but its refresh token may be spent: read the logs now and follow the README (Reliability) to recover."
  not_stored_policy_name=$policy_name
  if [[ -n $absence_s ]]; then
    ensure_policy "$absence_policy" absent "$results_metric" ERROR \
      "No rotation result has come from \`$function_name\` for $(human "$absence_s"): its schedule (\`$schedule\`, $time_zone) runs at most $(human "$schedule_gap_s") apart, and deploy.sh allows $(human "$SWITCH_MARGIN_S") more. The function is not running, so no key is refreshed: the Scheduler job may be paused or failing (\`gcloud scheduler jobs describe $job_name --location $region --project $project --format='value(state,status,lastAttemptTime)'\`), the invoker's grant removed (the job then gets 403 and the function logs nothing), or the function deleted or broken by a deploy. Run \`./deploy.sh\` again to restore what it set up, then \`gcloud scheduler jobs run $job_name --location $region --project $project\`." \
      "$function_name" "$absence_s" "$(human "$absence_s")"
    absence_policy_name=$policy_name
  else
    remove_policies "$absence_policy"
    say "  note: no dead-man's switch: $switch_note"
  fi
  # shellcheck disable=SC2016 # ${metric.label.secret} is Cloud Monitoring's, not bash's
  ensure_policy "$expiry_policy" below "$lifetime_metric" CRITICAL \
    "A Momento key that \`$function_name\` rotates has less than $alert_expiry_below left (secret: "'${metric.label.secret}'"). An expired key can't be refreshed: only a new one from Momento's console replaces it. Check the key now: \`python -m rotation status --project $project\`, and the function's logs (\`gcloud functions logs read $function_name --gen2 --region $region --project $project\`). If its refresh token is lost, seed a new download: \`python -m rotation seed --from FILE SECRET --project $project\`." \
    "$expiry_below_s" "$alert_expiry_below"
  expiry_policy_name=$policy_name
  [[ -n $alert_channel ]] ||
    say "  note: no --alert-channel, so the policies notify no one; re-run with one to be paged"
}

# ------------------------------------------------------------------------------ dashboard
# monitoring/dashboard.json, with its {{NAME}} placeholders filled in. A placeholder that is a
# whole string and ends in _SECONDS becomes a number. An alert chart whose policy is off (no
# name) becomes a text widget saying why ({{NAME_OFF}}).
readonly DASHBOARD_FILL='import json, re, sys
template, *pairs = sys.argv[1:]
values = dict(pair.split("=", 1) for pair in pairs)
token = re.compile(r"\{\{([A-Z_]+)\}\}")
def value(key):
    if key not in values:
        sys.exit(f"{template}: no value for the placeholder {{{{{key}}}}}")
    return values[key]
def fill(node):
    if isinstance(node, dict):
        chart = node.get("alertChart")
        off = token.fullmatch(chart.get("name", "")) if isinstance(chart, dict) else None
        if off and not value(off.group(1)):
            node = {k: v for k, v in node.items() if k != "alertChart"}
            node["text"] = {"content": value(off.group(1) + "_OFF"), "format": "MARKDOWN"}
        return {k: fill(v) for k, v in node.items() if not k.startswith("_comment")}
    if isinstance(node, list):
        return [fill(v) for v in node]
    if isinstance(node, str):
        whole = token.fullmatch(node)
        if whole and whole.group(1).endswith("_SECONDS"):
            return int(value(whole.group(1)))
        return token.sub(lambda m: value(m.group(1)), node)
    return node
print(json.dumps(fill(json.load(open(template))), indent=1))'

# The dashboard on stdin (JSON) against FILE: "same", or "differs" and FILE gets its etag (so the
# update fails rather than overwrite a change made meanwhile).
readonly DASHBOARD_COMPARE="import json, sys
$COVERS
have, path = json.load(sys.stdin), sys.argv[1]
want = json.load(open(path))
body = {k: v for k, v in want.items() if k != 'name'}
if covers(have, body):
    print('same')
else:
    json.dump({**want, 'etag': have.get('etag', '')}, open(path, 'w'), indent=1)
    print('differs')"

ensure_dashboard() {
  step "Dashboard $dashboard_id (from monitoring/dashboard.json)"
  local file=$work_dir/dashboard.json found
  python_snippet "$DASHBOARD_FILL" "$DASHBOARD_TEMPLATE" \
    "NAME=projects/$project/dashboards/$dashboard_id" "FUNCTION=$function_name" \
    "EVENT_FUNCTION=$event_function" "RESULTS_METRIC=$results_metric" \
    "LIFETIME_METRIC=$lifetime_metric" "EXPIRY_BELOW=$alert_expiry_below" \
    "EXPIRY_BELOW_SECONDS=$expiry_below_s" \
    "SCHEDULE=$([[ $scheduler == true ]] && echo "\`$schedule\` ($time_zone)" || echo "none (--no-scheduler)")" \
    "FAILURES_POLICY=$failures_policy_name" "NOT_STORED_POLICY=$not_stored_policy_name" \
    "ABSENCE_POLICY=$absence_policy_name" "EXPIRY_POLICY=$expiry_policy_name" \
    "ABSENCE_POLICY_OFF=**Off**: no dead-man's switch ($switch_note)." >"$file"
  if query found monitoring dashboards describe "$dashboard_id" "${common[@]}" --format=json; then
    if [[ $(python_snippet "$DASHBOARD_COMPARE" "$file" <<<"$found") == same ]]; then
      say "  up to date"
      return 0
    fi
    run monitoring dashboards update "$dashboard_id" "${common[@]}" --config-from-file="$file"
  else
    run monitoring dashboards create "${common[@]}" --config-from-file="$file"
  fi
}

# ------------------------------------------------------------------------------ key check
# After deploying: the function's own status check (python -m rotation status), with the
# deployed settings, where this machine can run the function's code and reach the keys. It names
# any secret whose key would die before the next run, or that a fresh key would not outlive.

# Each secret with an error or an attention in `python -m rotation status --json` (the file
# argv[1]), one line each: what the next run would fail with, or what needs a person though no
# run fails (schedule_too_sparse: a schedule that can't keep the key alive).
readonly STATUS_REPORT='import json, sys
answer = json.load(open(sys.argv[1]))
for entry in answer.get("secrets") or []:
    for found in (entry.get("error"), entry.get("attention")):
        if found:
            code = found.get("code") if isinstance(found, dict) else None
            message = found.get("message") if isinstance(found, dict) else str(found)
            secret = entry.get("secret")
            print(f"{secret}: {message}" + (f" ({code})" if code else ""))'

# status_python: the first Python that can run the function's code from the source folder.
status_python() {
  local candidate
  for candidate in "$source_dir/.venv/bin/python" "$python_path"; do
    [[ -x $candidate ]] || continue
    if (cd "$source_dir" && "$candidate" -c 'import google.cloud.secretmanager, rotation.service.status' \
      >/dev/null 2>&1); then
      printf '%s' "$candidate"
      return 0
    fi
  done
  return 1
}

check_keys_alive() {
  step "Check that the schedule keeps each key alive (the function's status check)"
  local py status=0 out=$work_dir/status.json errors=$work_dir/status.err report by_hand
  local status_args=(.venv/bin/python -m rotation status --project "$project"
    ${managed_secrets[@]+"${managed_secrets[@]}"})
  by_hand="cd $(quote_command "$source_dir") && $(quote_command "${status_args[@]}")"
  if [[ $dry_run == true ]]; then
    say "  # after deploying, where it can: $by_hand"
    return 0
  fi
  if ((${#managed_secrets[@]} == 0)); then
    say "  no secret to check yet"
    return 0
  fi
  if [[ -n ${CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER:-} ]]; then
    say "  not checked here: gcloud reaches Secret Manager at $CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER"
    say "  (CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER), which the function's code would not. Check with:"
    say "    $by_hand"
    return 0
  fi
  if ! py=$(status_python); then
    say "  not checked here: no Python here has the function's dependencies (./dev.sh makes"
    say "  .venv; or pip install -r requirements.txt). With them, and your credentials"
    say "  (gcloud auth application-default login), check with:"
    say "    $by_hand"
    return 0
  fi
  (cd "$source_dir" && env -u SECRET_MANAGER_EMULATOR_HOST "${function_env[@]}" \
    ${timeout_command[@]+"${timeout_command[@]}"} "$py" -m rotation status --json \
    --project "$project" "${managed_secrets[@]}" >"$out" 2>"$errors") || status=$?
  case $status in
    0) say "  every key outlives its next run (python -m rotation status: ok)" ;;
    1)
      report=$(python_snippet "$STATUS_REPORT" "$out" 2>/dev/null) || report=$(cat "$out")
      warn "the function's status check found secrets that need attention:"
      printf '  %s\n' "$report" >&2
      [[ ! -s $errors ]] || tail -n 10 "$errors" | sed 's/^/  /' >&2
      say "  Details: $by_hand"
      ;;
    *)
      say "  could not check (python -m rotation status exited $status):"
      [[ ! -s $errors ]] || tail -n 5 "$errors" | sed 's/^/    /'
      say "  Check by hand, once that is fixed: $by_hand"
      ;;
  esac
}

deploy() {
  enable_apis
  check_locations
  [[ -z $seed_from ]] || seed_secret_from_file
  check_secrets_exist
  discover_labelled_secrets
  step "Create the service accounts"
  ensure_account "$function_account" "$function_sa" "runs the rotation function"
  ensure_account "$scheduler_account" "$scheduler_sa" "invokes the rotation function"
  step "Grant $role_name to $function_sa on each secret"
  ensure_rotator_role
  grant_on_secrets
  grant_lister_role
  step "Deploy function $function_name (gen2, private, runs as $function_sa)"
  deploy_function "$function_name" "$ENTRY_POINT" --trigger-http
  read_function_endpoint "$function_name"
  allow_scheduler_only
  if [[ $scheduler == true ]]; then
    ensure_job
  else
    remove_job
  fi
  if [[ -n $rotation_period ]]; then
    ensure_topic
    deploy_event_function
    ensure_rotation_schedules
  fi
  ensure_alerting
  ensure_dashboard
  check_keys_alive
  if [[ $dry_run == true ]]; then
    step "End of plan (dry run: nothing was run)"
    return 0
  fi
  step "Done"
  say "  Function: $function_name (private; invoked by $scheduler_sa)"
  if [[ $scheduler == true ]]; then
    say "  Runs: $schedule ($time_zone). Rotate now: gcloud scheduler jobs run $job_name --location=$region --project=$project"
  fi
  if [[ -n $absence_s ]]; then
    say "  Dead-man's switch: alerts after $(human "$absence_s") without a result"
  else
    say "  Dead-man's switch: off ($switch_note)"
  fi
  if [[ -n $rotation_period ]]; then
    say "  Secret Manager notifies $topic_name every ${rotation_period_s}s;" \
      "$event_function rotates on each notice"
  fi
  say "  Dashboard: $DASHBOARD_CONSOLE/$dashboard_id?project=$project"
  if [[ $seeded == true ]]; then
    # A refresh token can only be tested by using it; a spent one had better fail now than at
    # the next scheduled run. From the repository, with your own credentials (./dev.sh's venv):
    say "  Test the seeded refresh token now (one refresh; the downloaded file is then spent):"
    say "    .venv/bin/python -m rotation rotate --force --project $project --secrets $seed_secret"
  fi
}

# ------------------------------------------------------------------------------ teardown

delete_if_present() { # delete_if_present WHAT DESCRIBE_ARGS... -- DELETE_ARGS...
  local what=$1 found describe=() 
  shift
  while [[ $1 != -- ]]; do describe+=("$1"); shift; done
  shift
  if present found "${describe[@]}"; then
    run "$@"
  else
    say "  $what: not found"
  fi
}

delete_role() { # delete_role ID
  local found
  if ! present found iam roles describe "$1" "${common[@]}" --format='value(deleted)'; then
    say "  not found"
  elif [[ $found == [Tt]rue ]]; then
    say "  already deleted"
  else
    run iam roles delete "$1" "${common[@]}" --quiet
  fi
}

# remove_schedules: take this deploy's topic off each secret, and the rotation schedule with it
# when no other topic is left (a schedule needs a topic, and one publishing to a deleted topic
# would only fail). Versions, labels and other topics stay.
remove_schedules() {
  step "Remove the rotation schedule and $topic_name from each secret"
  local secret found mine others line
  for secret in ${managed_secrets[@]+"${managed_secrets[@]}"}; do
    refer "$secret"
    if ! secret_topics found "$secret"; then
      if [[ $dry_run == true ]]; then
        run secrets update "${ref[@]}" "${common[@]}" --remove-rotation-schedule \
          --remove-topics="$topic_name"
      else
        say "  $secret: secret not found"
      fi
      continue
    fi
    found=$(tr ',;' '\n' <<<"${found##*|}")
    if ! mine=$(ours "$found"); then
      say "  $secret: no schedule of ours"
      continue
    fi
    others=""
    while IFS= read -r line; do
      [[ -z $line || $line == "$mine" ]] || others+="$line "
    done <<<"$found"
    if [[ -z $others ]]; then
      run secrets update "${ref[@]}" "${common[@]}" --remove-rotation-schedule --remove-topics="$mine"
    else
      run secrets update "${ref[@]}" "${common[@]}" --remove-topics="$mine"
      say "  $secret: rotation schedule left in place: it also notifies ${others% }"
    fi
  done
}

remove_grants_on_secrets() {
  step "Remove $role_name from the secrets (the secrets and their versions stay)"
  local secret policy
  for secret in ${managed_secrets[@]+"${managed_secrets[@]}"}; do
    refer "$secret"
    if ! present policy secrets get-iam-policy "${ref[@]}" "${common[@]}" \
      --flatten='bindings[].members' --format='value(bindings.role,bindings.members)'; then
      say "  $secret: secret not found"
    elif [[ $dry_run == true ]] ||
      contains_line "$policy" "$role_name"$'\t'"serviceAccount:$function_sa"; then
      run secrets remove-iam-policy-binding "${ref[@]}" "${common[@]}" \
        --member="serviceAccount:$function_sa" --role="$role_name"
    else
      say "  $secret: not granted"
    fi
  done
}

remove_lister_grant() {
  step "Remove $lister_role_name from the project, and delete it"
  local policy
  if present policy projects get-iam-policy "$project" \
    --flatten='bindings[].members' --format='value(bindings.role,bindings.members)' &&
    { [[ $dry_run == true ]] ||
      contains_line "$policy" "$lister_role_name"$'\t'"serviceAccount:$function_sa"; }; then
    run projects remove-iam-policy-binding "$project" --condition=None \
      --member="serviceAccount:$function_sa" --role="$lister_role_name"
  else
    say "  not granted"
  fi
  delete_role "$lister_role_id"
}

remove_alerting() {
  step "Delete the dashboard, the alert policies and the log-based metrics"
  local display metric
  delete_if_present "dashboard $dashboard_id" monitoring dashboards describe "$dashboard_id" \
    "${common[@]}" --format='value(name)' -- \
    monitoring dashboards delete "$dashboard_id" "${common[@]}" --quiet
  for display in "$failures_policy" "$not_stored_policy" "$absence_policy" "$expiry_policy"; do
    remove_policies "$display"
  done
  for metric in "$failures_metric" "$not_stored_metric" "$results_metric" "$lifetime_metric"; do
    delete_if_present "metric $metric" logging metrics describe "$metric" "${common[@]}" \
      --format='value(name)' -- logging metrics delete "$metric" "${common[@]}" --quiet
  done
}

teardown() {
  local name account
  check_locations
  step "Delete scheduler job $job_name"
  delete_if_present "$job_name" scheduler jobs describe "$job_name" "${scheduled[@]}" \
    --format='value(name)' -- scheduler jobs delete "$job_name" "${scheduled[@]}" --quiet

  step "Delete the functions (with their Cloud Run services, invoker grants and trigger)"
  for name in "$event_function" "$function_name"; do
    delete_if_present "$name" functions describe "$name" --gen2 "${regional[@]}" \
      --format='value(name)' -- functions delete "$name" --gen2 "${regional[@]}" --quiet
  done

  discover_labelled_secrets
  remove_schedules
  step "Delete Pub/Sub topic $topic_name (its IAM policy, with the publisher grant, goes with it)"
  delete_if_present "$topic_name" pubsub topics describe "$topic" "${common[@]}" \
    --format='value(name)' -- pubsub topics delete "$topic" "${common[@]}"
  remove_grants_on_secrets
  remove_lister_grant
  step "Delete custom role $role_name"
  delete_role "$role_id"
  remove_alerting

  step "Delete the service accounts"
  for account in "$function_sa" "$scheduler_sa"; do
    delete_if_present "$account" iam service-accounts describe "$account" "${common[@]}" \
      --format='value(email)' -- iam service-accounts delete "$account" "${common[@]}" --quiet
  done
  step "$([[ $dry_run == true ]] && echo "End of plan (dry run: nothing was run)" || echo Done)"
  say "  Left in place: the secrets (${managed_secrets[*]}) and their versions, and the enabled APIs."
}

if [[ $teardown == true ]]; then
  teardown
else
  deploy
fi
