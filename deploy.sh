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
  secretmanager.versions.list    # find superseded versions for the retention sweep
  secretmanager.versions.disable # retention sweep: disable superseded versions
)
readonly ROTATOR_PERMISSIONS

REQUIRED_APIS=(
  cloudfunctions.googleapis.com
  run.googleapis.com
  cloudbuild.googleapis.com
  artifactregistry.googleapis.com
  cloudscheduler.googleapis.com
  secretmanager.googleapis.com
  iam.googleapis.com
)
readonly REQUIRED_APIS

readonly ENTRY_POINT=rotate
readonly INVOKER_ROLE=roles/run.invoker
readonly JOB_BODY='{}'
readonly JOB_BODY_BASE64=e30=
readonly JOB_RETRIES=3
readonly JOB_MIN_BACKOFF=60s
readonly JOB_MAX_BACKOFF=600s
readonly JOB_MAX_DOUBLINGS=3
readonly JOB_DESCRIPTION="Rotates Momento API keys in Secret Manager (deploy.sh)"
readonly FINGERPRINT_LABEL=deploy-fingerprint

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir

usage() {
  cat <<'EOF'
Usage: ./deploy.sh --project ID --secrets NAME[,NAME...] [options]
       ./deploy.sh --project ID --secrets NAME[,NAME...] --teardown
       ./deploy.sh ... --dry-run

Deploys the Momento key rotation function (Cloud Functions gen2, private) and a Cloud
Scheduler job that calls it. In order, each step checking first so a re-run changes nothing:
  1. enable the APIs it needs;
  2. with --seed-from: create the secret if missing and add the file as its first version;
  3. create a service account for the function and one for the scheduler;
  4. create a custom role with only the permissions the function needs, and grant it to
     the function's account on each named secret (nothing at project level);
  5. deploy the function, running as its own account, with no unauthenticated access;
  6. allow only the scheduler's account to invoke it;
  7. create or update the scheduler job (POST, OIDC token, retries).

Each option falls back to the environment variable in brackets, then to the default.

Required:
  --project ID              Google Cloud project.                  [GOOGLE_CLOUD_PROJECT]
  --secrets LIST            Secret Manager secrets to rotate, comma-separated, each NAME or
                            projects/ID/secrets/NAME (same project). [ROTATION_SECRETS]

Rotation (passed to the function; first checked by its own parser, rotation/check.py):
  --refresh-before DUR      Refresh a key this long before it expires (90m, 72h, 3d, 3600s).
                                                                   [REFRESH_BEFORE; 3d]
  --retention DUR           Keep superseded versions enabled this long. [RETENTION; 7d]
  --min-enabled-versions N  Never leave fewer enabled versions.    [MIN_ENABLED_VERSIONS; 1]
  --function-dry-run        Deploy the function in dry-run mode: it reports, writes nothing.
                                                                   [FUNCTION_DRY_RUN; false]
  --reads-per-minute N      Most Secret Manager reads (get, list) the function sends in any
                            minute; the project allows 600, shared. [SECRET_MANAGER_READS_PER_MINUTE; 300]
  --writes-per-minute N     Most Secret Manager writes (add, update, disable) the function sends
                            in any minute; the project allows 600. [SECRET_MANAGER_WRITES_PER_MINUTE; 300]

Schedule:
  --schedule CRON           When the job runs (unix cron).         [ROTATION_SCHEDULE; 0 3 * * *]
  --time-zone TZ            Time zone of the schedule.             [ROTATION_TIME_ZONE; Etc/UTC]
  --job-name NAME           Cloud Scheduler job name.              [SCHEDULER_JOB; function name]

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

Seeding:
  --seed-from FILE          The JSON file Momento's console downloads (apiKey and
                            refreshToken). Creates the secret if missing and adds the file as
                            its first version; never overwrites a secret that has versions.
                            The file is passed to gcloud by path, never on a command line, and
                            first checked by the function's own parser (malformed, v2 and
                            expired keys are refused).
                                                                   [SEED_FROM]
  --seed-secret NAME        Which secret to seed (default: the only one in --secrets).
                                                                   [SEED_SECRET]

Modes:
  --dry-run                 Print every gcloud command it would run; run none.
  --teardown                Remove the job, the function, the grants on the secrets, the
                            custom role and both accounts. Secrets and their data stay.
  -h, --help                Show this help.

Examples:
  ./deploy.sh --project my-project --secrets momento-api-key --seed-from ~/Downloads/key.json
  ./deploy.sh --project my-project --secrets momento-api-key --dry-run
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

# Print a command: "+" for one that changes something, "?" for a read-only check.
show() { printf '  + %s\n' "$(quote_command gcloud "$@")"; }
show_check() { printf '  ? %s\n' "$(quote_command gcloud "$@")"; }

# Run a gcloud command that changes something. Its resource output is dropped (gcloud reports
# progress on stderr); in --dry-run it is only printed.
run() {
  show "$@"
  [[ $dry_run == true ]] && return 0
  gcloud "$@" >/dev/null
}

# Like run, but retried a few times: IAM takes a while to see a newly created account.
run_with_retries() {
  local attempt
  show "$@"
  [[ $dry_run == true ]] && return 0
  for attempt in 1 2 3 4; do
    if gcloud "$@" >/dev/null; then return 0; fi
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
  if out=$(gcloud "$@" 2>"$err_file"); then
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
function_dry_run=${FUNCTION_DRY_RUN:-false}
reads_per_minute=${SECRET_MANAGER_READS_PER_MINUTE:-300}
writes_per_minute=${SECRET_MANAGER_WRITES_PER_MINUTE:-300}
schedule=${ROTATION_SCHEDULE:-0 3 * * *}
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
    --project) take && project=$value ;;
    --region) take && region=$value ;;
    --secrets) take && secrets_csv=$value ;;
    --refresh-before) take && refresh_before=$value ;;
    --retention) take && retention=$value ;;
    --min-enabled-versions) take && min_enabled_versions=$value ;;
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
# further down by the function's own code, rotation/check.py: one validator, so deploy.sh
# refuses exactly what the function would refuse at start, with the function's message.

[[ -n $project ]] || usage_error "--project is required (or set GOOGLE_CLOUD_PROJECT)"
[[ -n $secrets_csv ]] || usage_error "--secrets is required (or set ROTATION_SECRETS)"

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
if [[ -n $build_service_account ]]; then
  check "$build_service_account" '^[^/@]+@[^/@]+$' \
    "--build-service-account '$build_service_account': an account email"
fi

# Secrets: short names, or full names in this project (the custom role lives in this project,
# and a project-level custom role can only be granted on resources inside it). Whether each is a
# valid secret name is the function's parser's call, below.
secrets=()
IFS=',' read -r -a raw_secrets <<<"$secrets_csv"
for name in ${raw_secrets[@]+"${raw_secrets[@]}"}; do
  name=${name//[[:space:]]/}
  [[ -n $name ]] || continue
  if [[ $name =~ ^projects/([^/]+)/secrets/([^/]+)$ ]]; then
    [[ ${BASH_REMATCH[1]} == "$project" ]] ||
      usage_error "secret '$name' is outside --project $project; deploy one function per project"
    name=${BASH_REMATCH[2]}
  fi
  contains_line "$(printf '%s\n' ${secrets[@]+"${secrets[@]}"})" "$name" || secrets+=("$name")
done
((${#secrets[@]} > 0)) || usage_error "--secrets names no secret"
secrets_joined=$(IFS=','; printf '%s' "${secrets[*]}")

[[ -f $source_dir/main.py && -f $source_dir/requirements.txt && -f $source_dir/rotation/check.py ]] ||
  usage_error "--source '$source_dir' needs main.py, requirements.txt and rotation/: point it at the function's folder"
source_dir=$(cd "$source_dir" && pwd)

# The environment variables the function is deployed with, exactly (deploy_function joins them
# into --set-env-vars).
function_env=(
  "GOOGLE_CLOUD_PROJECT=$project"
  "ROTATION_SECRETS=$secrets_joined"
  "REFRESH_BEFORE=$refresh_before"
  "RETENTION=$retention"
  "MIN_ENABLED_VERSIONS=$min_enabled_versions"
  "DRY_RUN=$function_dry_run"
  "SECRET_MANAGER_READS_PER_MINUTE=$reads_per_minute"
  "SECRET_MANAGER_WRITES_PER_MINUTE=$writes_per_minute"
)

# The function's own checks run in a local Python 3.11+ (the one gcloud is told to use, when
# CLOUDSDK_PYTHON is set). rotation/check.py needs only the standard library.
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

# run_check ARG...: run "python -m rotation.check ARG..." from the source folder, in an
# environment holding only check_env (no PYTHON* variables, no site packages, no bytecode
# written into the source folder). Sets check_status, and check_message to what it printed on
# stderr without its "rotation: " prefix.
check_env=()
run_check() {
  check_status=0
  check_message=$(cd "$source_dir" && env -i ${check_env[@]+"${check_env[@]}"} \
    "$python_path" -B -E -s -S -X utf8 -m rotation.check "$@" 2>&1 >/dev/null) || check_status=$?
  check_message=${check_message#rotation: }
}

# setting_source MESSAGE: the deploy.sh option (and variable) behind the function setting that
# MESSAGE from the function's config parser names first.
setting_source() {
  case ${1%%[!A-Z_]*} in
    GOOGLE_CLOUD_PROJECT) printf '%s' "--project (GOOGLE_CLOUD_PROJECT)" ;;
    ROTATION_SECRETS) printf '%s' "--secrets (ROTATION_SECRETS)" ;;
    REFRESH_BEFORE) printf '%s' "--refresh-before (REFRESH_BEFORE)" ;;
    RETENTION) printf '%s' "--retention (RETENTION)" ;;
    MIN_ENABLED_VERSIONS) printf '%s' "--min-enabled-versions (MIN_ENABLED_VERSIONS)" ;;
    DRY_RUN) printf '%s' "--function-dry-run (FUNCTION_DRY_RUN)" ;;
    SECRET_MANAGER_READS_PER_MINUTE)
      printf '%s' "--reads-per-minute (SECRET_MANAGER_READS_PER_MINUTE)" ;;
    SECRET_MANAGER_WRITES_PER_MINUTE)
      printf '%s' "--writes-per-minute (SECRET_MANAGER_WRITES_PER_MINUTE)" ;;
    *) printf '%s' "the function's settings" ;;
  esac
}

check_env=("${function_env[@]}")
run_check config
case $check_status in
  0) ;;
  2) usage_error "$(setting_source "$check_message"): $check_message" ;;
  *)
    printf '%s\n' "$check_message" >&2
    die "could not check the function's settings: $python_path -m rotation.check config" \
      "exited $check_status in $source_dir (output above)"
    ;;
esac

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
      die "--seed-from '$file': could not check it: $python_path -m rotation.check document" \
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
  seed_secret=${seed_secret##*/}
  contains_line "$(printf '%s\n' "${secrets[@]}")" "$seed_secret" ||
    usage_error "--seed-secret '$seed_secret' is not one of --secrets"
  validate_seed_file "$seed_from"
fi

# ------------------------------------------------------------------------------ preflight

function_sa=$function_account@$project.iam.gserviceaccount.com
scheduler_sa=$scheduler_account@$project.iam.gserviceaccount.com
role_name=projects/$project/roles/$role_id
attempt_deadline=$((timeout + 30 > 1800 ? 1800 : timeout + 30))s
common=(--project="$project")
regional=(--project="$project" --region="$region")
scheduled=(--project="$project" --location="$region")

err_file=$(mktemp)
trap 'rm -f "$err_file"' EXIT

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
  local enabled missing=() api
  query enabled services list --enabled "${common[@]}" --format='value(config.name)' || true
  for api in "${REQUIRED_APIS[@]}"; do
    contains_line "$enabled" "$api" || missing+=("$api")
  done
  if ((${#missing[@]} == 0)); then
    say "  all enabled"
  else
    run services enable "${missing[@]}" "${common[@]}"
  fi
}

seed_secret_from_file() {
  step "Seed secret $seed_secret from $seed_from"
  local found versions
  if ! query found secrets describe "$seed_secret" "${common[@]}" --format='value(name)'; then
    run secrets create "$seed_secret" "${common[@]}" --replication-policy=automatic
  fi
  query versions secrets versions list "$seed_secret" "${common[@]}" --limit=1 \
    --format='value(name)' || true
  if [[ -n $versions ]]; then
    say "  $seed_secret already has versions; not seeding (the function keeps it fresh)"
  else
    run secrets versions add "$seed_secret" "${common[@]}" --data-file="$seed_from"
  fi
}

check_secrets_exist() {
  step "Check the secrets exist"
  local secret found
  for secret in "${secrets[@]}"; do
    [[ $secret == "$seed_secret" ]] && continue
    query found secrets describe "$secret" "${common[@]}" --format='value(name)' ||
      [[ $dry_run == true ]] ||
      die "secret '$secret' does not exist in project $project; create it with" \
        "--seed-from FILE (the JSON from Momento's console), or check --secrets"
  done
  [[ $dry_run == true ]] || say "  found: ${secrets[*]}"
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

ensure_role() {
  local found deleted permissions want
  want=$(IFS=','; printf '%s' "${ROTATOR_PERMISSIONS[*]}" | sorted_csv)
  if ! query found iam roles describe "$role_id" "${common[@]}" \
    --format='value[separator="|"](deleted,includedPermissions.list())'; then
    run iam roles create "$role_id" "${common[@]}" --quiet --stage=GA \
      --title="Momento key rotator" \
      --description="Read, add and disable versions of the Momento key secrets, and hold their rotation lease (deploy.sh)" \
      --permissions="$want" ||
      die "could not create role $role_name (above). A custom role ID stays reserved for" \
        "about 37 days after deletion: pass --role-id with a new ID"
    return 0
  fi
  IFS='|' read -r deleted permissions <<<"$found"
  if [[ $deleted == [Tt]rue ]]; then
    run iam roles undelete "$role_id" "${common[@]}" --quiet
  fi
  if [[ $(printf '%s' "$permissions" | sorted_csv) != "$want" ]]; then
    run iam roles update "$role_id" "${common[@]}" --quiet --permissions="$want"
  else
    say "  role $role_name has exactly the permissions needed"
  fi
}

grant_on_secrets() {
  local secret policy
  for secret in "${secrets[@]}"; do
    query policy secrets get-iam-policy "$secret" "${common[@]}" \
      --flatten='bindings[].members' --format='value(bindings.role,bindings.members)' || true
    if contains_line "$policy" "$role_name"$'\t'"serviceAccount:$function_sa"; then
      say "  $secret: already granted"
    else
      run_with_retries secrets add-iam-policy-binding "$secret" "${common[@]}" \
        --member="serviceAccount:$function_sa" --role="$role_name"
    fi
  done
}

# describe_function VAR: VAR="STATE|FINGERPRINT|URL|SERVICE" of the function; 1 if missing.
# (A "|" separator, because read collapses empty tab-separated fields.)
describe_function() {
  query "$1" functions describe "$function_name" --gen2 "${regional[@]}" \
    --format="value[separator='|'](state,labels.$FINGERPRINT_LABEL,serviceConfig.uri,serviceConfig.service)"
}

deploy_function() {
  step "Deploy function $function_name (gen2, private, runs as $function_sa)"
  local env_vars args found state deployed fingerprint files file
  # "^@^": the list is @-separated (no value can hold an @: the function's parser refused any).
  env_vars="^@^$(IFS=@; printf '%s' "${function_env[*]}")"
  args=(functions deploy "$function_name" --gen2 "${regional[@]}"
    --runtime="$runtime" --source="$source_dir" --entry-point="$ENTRY_POINT" --trigger-http
    --no-allow-unauthenticated --service-account="$function_sa"
    --set-env-vars="$env_vars" --max-instances=1 --memory="$memory" --timeout="${timeout}s")
  if [[ -n $build_service_account ]]; then
    args+=(--build-service-account="projects/$project/serviceAccounts/$build_service_account")
  fi

  if [[ $dry_run == true ]]; then
    describe_function found || true
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

  if describe_function found; then
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
read_function_endpoint() {
  local found=$function_description
  if [[ $dry_run == true ]]; then
    describe_function found || true
    function_url="FUNCTION_URL"
    function_service=$function_name
    say "  # FUNCTION_URL = serviceConfig.uri from the describe above"
    return 0
  fi
  [[ -n $found ]] || describe_function found ||
    die "function $function_name is missing right after deploying it"
  IFS='|' read -r _ _ function_url function_service <<<"$found"
  function_service=${function_service##*/}
  [[ -n $function_url && -n $function_service ]] ||
    die "function $function_name has no URL yet; run deploy.sh again in a minute"
}

allow_scheduler_only() {
  step "Allow only $scheduler_sa to invoke the function"
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

deploy() {
  enable_apis
  [[ -z $seed_from ]] || seed_secret_from_file
  check_secrets_exist
  step "Create the service accounts"
  ensure_account "$function_account" "$function_sa" "runs the rotation function"
  ensure_account "$scheduler_account" "$scheduler_sa" "invokes the rotation function on schedule"
  step "Grant $role_name to $function_sa on each secret, and nowhere else"
  ensure_role
  grant_on_secrets
  deploy_function
  read_function_endpoint
  allow_scheduler_only
  ensure_job
  if [[ $dry_run == true ]]; then
    step "End of plan (dry run: nothing was run)"
    return 0
  fi
  step "Done"
  say "  Function: $function_url (private; invoked by $scheduler_sa)"
  say "  Rotate now: gcloud scheduler jobs run $job_name --location=$region --project=$project"
}

# ------------------------------------------------------------------------------ teardown

teardown() {
  local found policy secret account
  step "Delete scheduler job $job_name"
  if present found scheduler jobs describe "$job_name" "${scheduled[@]}" --format='value(name)'; then
    run scheduler jobs delete "$job_name" "${scheduled[@]}" --quiet
  else
    say "  not found"
  fi

  step "Delete function $function_name (with its Cloud Run service and invoker grant)"
  if present found functions describe "$function_name" --gen2 "${regional[@]}" \
    --format='value(name)'; then
    run functions delete "$function_name" --gen2 "${regional[@]}" --quiet
  else
    say "  not found"
  fi

  step "Remove $role_name from the secrets (the secrets and their versions stay)"
  for secret in "${secrets[@]}"; do
    if ! present policy secrets get-iam-policy "$secret" "${common[@]}" \
      --flatten='bindings[].members' --format='value(bindings.role,bindings.members)'; then
      say "  $secret: secret not found"
    elif [[ $dry_run == true ]] ||
      contains_line "$policy" "$role_name"$'\t'"serviceAccount:$function_sa"; then
      run secrets remove-iam-policy-binding "$secret" "${common[@]}" \
        --member="serviceAccount:$function_sa" --role="$role_name"
    else
      say "  $secret: not granted"
    fi
  done

  step "Delete custom role $role_name"
  if ! present found iam roles describe "$role_id" "${common[@]}" --format='value(deleted)'; then
    say "  not found"
  elif [[ $found == [Tt]rue ]]; then
    say "  already deleted"
  else
    run iam roles delete "$role_id" "${common[@]}" --quiet
  fi

  step "Delete the service accounts"
  for account in "$function_sa" "$scheduler_sa"; do
    if present found iam service-accounts describe "$account" "${common[@]}" \
      --format='value(email)'; then
      run iam service-accounts delete "$account" "${common[@]}" --quiet
    else
      say "  $account: not found"
    fi
  done
  step "$([[ $dry_run == true ]] && echo "End of plan (dry run: nothing was run)" || echo Done)"
  say "  Left in place: the secrets (${secrets[*]}) and their versions, and the enabled APIs."
}

if [[ $teardown == true ]]; then
  teardown
else
  deploy
fi
