#!/usr/bin/env bash
# Deploy or delete a stage of oncall with CloudFormation. The Makefile runs it:
#
#   make deploy STAGE=prod PARAMS="AlarmEmail=ops@example.com EmailFrom=oncall@example.com"
#   make destroy STAGE=prod
#
# or by hand, from the repository's root, after `make package STAGE=<stage>`:
#
#   infra/deploy.sh upload  <stage>                 the artifacts bucket, then the code into it
#   infra/deploy.sh deploy  <stage> [Key=Value...]  upload, then create or update oncall-<stage>
#   infra/deploy.sh destroy <stage>                 delete oncall-<stage> (tables kept), then the bucket
#
# The region is AWS_REGION, else AWS_DEFAULT_REGION, else the region of the CLI profile
# (AWS_PROFILE or default). Credentials are whatever the AWS CLI finds. AWS_ENDPOINT_URL
# sends every call elsewhere (tests/test_deploy.py points it at a moto server).
#
# AWS_CLI: the aws command (default: .venv/bin/aws, else aws on PATH).
# ONCALL_PACKAGE_DIR: where sam.json and deployment.zip are (default: build/package).
# CONFIRM: for destroy without a terminal, the stack's name (oncall-<stage>).
set -euo pipefail

cd "$(dirname "$0")/.."

die() {
  echo "error: $*" >&2
  exit 1
}

say() {
  echo "==> $*" >&2
}

usage() {
  echo "usage: $0 upload|deploy|destroy <stage> [Key=Value ...]" >&2
  exit 2
}

# Lambda keeps 100 of an account's concurrency unreserved: an account whose quota is below
# 100 plus the sweep's default reservation (2) would refuse the stack. On a first deploy that
# does not choose SweepReservedConcurrency, such an account gets 0 (none kept), and is told.
sweep_concurrency() {
  local param limit
  for param in "$@"; do
    [ "${param%%=*}" = SweepReservedConcurrency ] && return 0
  done
  limit=$(aws lambda get-account-settings --query AccountLimit.ConcurrentExecutions --output text 2>/dev/null) || return 0
  if [[ "$limit" =~ ^[0-9]+$ ]] && [ "$limit" -lt 102 ]; then
    say "this account's Lambda concurrency quota is $limit, too small to reserve any for the sweep:"
    say "deploying with SweepReservedConcurrency=0 (ask for more in Service Quotas, then deploy with SweepReservedConcurrency=2)"
    echo SweepReservedConcurrency=0
  fi
}

[ $# -ge 2 ] || usage
ACTION=$1
STAGE=$2
shift 2
case "$ACTION" in
  upload | deploy | destroy) ;;
  *) usage ;;
esac
[[ "$STAGE" =~ ^[a-z][a-z0-9-]{0,20}$ ]] || die "stage '$STAGE': use lower-case letters, digits and '-' (e.g. prod)"
if [ "$ACTION" != deploy ] && [ $# -gt 0 ]; then
  die "$ACTION takes no parameters (PARAMS is for deploy)"
fi
for param in "$@"; do
  [[ "$param" =~ ^[A-Za-z][A-Za-z0-9]*= ]] || die "parameter '${param%%=*}': write Key=Value (e.g. AlarmEmail=ops@example.com)"
done

STACK="oncall-$STAGE"
ARTIFACTS_STACK="oncall-$STAGE-artifacts"
if [ "$ACTION" = destroy ] && [ "${CONFIRM:-}" != "$STACK" ] && [ ! -t 0 ]; then
  die "no terminal to confirm on: run with CONFIRM=$STACK (make destroy STAGE=$STAGE CONFIRM=$STACK)"
fi
PACKAGE_DIR=${ONCALL_PACKAGE_DIR:-build/package}
PACKAGED="$PACKAGE_DIR/packaged.json"
# CloudFormation takes a template inline up to this size; a larger one must be read from S3.
INLINE_TEMPLATE_LIMIT=51200

if [ -z "${AWS_CLI:-}" ]; then
  if [ -x .venv/bin/aws ]; then AWS_CLI=.venv/bin/aws; else AWS_CLI=aws; fi
fi
command -v "$AWS_CLI" >/dev/null 2>&1 ||
  die "no AWS CLI ('$AWS_CLI'): run 'make deploy', which installs it into .venv, or set AWS_CLI"

# --- region and credentials ------------------------------------------------------------

REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
if [ -z "$REGION" ]; then
  REGION=$("$AWS_CLI" configure get region 2>/dev/null || true)
fi
[ -n "$REGION" ] || die "no AWS region: set AWS_REGION (e.g. export AWS_REGION=eu-west-1) or a region in your AWS CLI profile"
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"

aws() {
  "$AWS_CLI" --region "$REGION" "$@"
}

ERRORS=$(mktemp)
trap 'rm -f "$ERRORS"' EXIT
if ! ACCOUNT=$(aws sts get-caller-identity --query Account --output text 2>"$ERRORS"); then
  sed 's/^/  /' "$ERRORS" >&2
  die "no usable AWS credentials: set AWS_PROFILE (see 'aws configure') or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
fi

# --- stacks ----------------------------------------------------------------------------

# A stack's status and outputs in one call: sets STATUS (NONE when there is no such
# stack) and OUTPUTS, a "key<TAB>value" line per output.
describe_stack() {
  local text
  STATUS=NONE
  OUTPUTS=
  if ! text=$(aws cloudformation describe-stacks --stack-name "$1" --output text \
    --query "Stacks[0].[[StackStatus], Outputs[].[OutputKey, OutputValue]][]" 2>"$ERRORS"); then
    grep -q "does not exist" "$ERRORS" && return 0
    sed 's/^/  /' "$ERRORS" >&2
    die "could not read the stack $1"
  fi
  STATUS=${text%%$'\n'*}
  OUTPUTS=${text#"$STATUS"}
}

# One output from the last describe_stack, or nothing.
output() {
  printf '%s\n' "$OUTPUTS" | awk -F '\t' -v key="$1" '$1 == key { print $2 }'
}

# Polls a stack until no operation on it is in progress; sets STATUS and OUTPUTS.
settle() {
  describe_stack "$1"
  while [[ "$STATUS" == *_IN_PROGRESS ]]; do
    sleep 5
    describe_stack "$1"
  done
}

# What went wrong in a stack's last operations, newest first.
show_failures() {
  echo "What failed in $1 (newest first):" >&2
  aws cloudformation describe-stack-events --stack-name "$1" --max-items 40 \
    --query "StackEvents[?contains(ResourceStatus, 'FAILED')].[Timestamp, LogicalResourceId, ResourceStatusReason]" \
    --output text 2>/dev/null | head -n 15 | sed 's/^/  /' >&2 || true
}

# --- upload ----------------------------------------------------------------------------

# The bucket is made once, the first time a stage is deployed. A later change to
# infra/artifacts.json is applied with: aws cloudformation deploy
# --stack-name oncall-<stage>-artifacts --template-file infra/artifacts.json
ensure_artifacts_bucket() {
  describe_stack "$ARTIFACTS_STACK"
  if [ "$STATUS" = NONE ]; then
    say "creating the artifacts bucket (stack $ARTIFACTS_STACK)"
    aws cloudformation create-stack --stack-name "$ARTIFACTS_STACK" \
      --template-body file://infra/artifacts.json --output text >/dev/null
    settle "$ARTIFACTS_STACK"
    if [ "$STATUS" != CREATE_COMPLETE ]; then
      show_failures "$ARTIFACTS_STACK"
      die "could not create $ARTIFACTS_STACK ($STATUS); delete it (aws cloudformation delete-stack --stack-name $ARTIFACTS_STACK) and try again"
    fi
  fi
  BUCKET=$(output BucketName)
  [ -n "$BUCKET" ] || die "$ARTIFACTS_STACK is $STATUS and has no BucketName output; delete it and try again"
}

# Restarts the 30-day expiry of the code the running stack was deployed from: if an
# update fails, CloudFormation rolls the functions back to that code, read from S3.
# The template names it as s3://bucket/key (SAM's CodeUri) or as an S3Key next to S3Bucket.
refresh_running_code() {
  local key
  for key in $(aws cloudformation get-template --stack-name "$STACK" --template-stage Original --output json 2>/dev/null |
    grep -oE "s3://$BUCKET/[A-Za-z0-9._/-]+|\"S3Key\": *\"[A-Za-z0-9._/-]+\"" |
    sed -E "s#^s3://$BUCKET/##; s#^\"S3Key\": *\"##; s#\"\$##" | sort -u); do
    if ! aws s3api copy-object --bucket "$BUCKET" --key "$key" --copy-source "$BUCKET/$key" \
      --metadata-directive REPLACE --output text >/dev/null 2>&1; then
      echo "warning: s3://$BUCKET/$key, code $STACK runs now, is gone: if this update fails, its rollback fails too" >&2
    fi
  done
}

# $1: the status of the stack (NONE before its first deploy).
upload() {
  [ -f "$PACKAGE_DIR/sam.json" ] || die "no $PACKAGE_DIR/sam.json: run 'make package STAGE=$STAGE' first"
  local stack_status=$1
  ensure_artifacts_bucket
  if [ "$stack_status" != NONE ]; then
    refresh_running_code
  fi
  say "uploading the code to s3://$BUCKET (skipped when it is there already)"
  aws cloudformation package --template-file "$PACKAGE_DIR/sam.json" --s3-bucket "$BUCKET" \
    --use-json --output-template-file "$PACKAGED" >/dev/null
  say "wrote $PACKAGED"
}

# --- deploy ----------------------------------------------------------------------------

deploy() {
  describe_stack "$STACK"
  local rollback=(--no-disable-rollback)
  case "$STATUS" in
    NONE | REVIEW_IN_PROGRESS | CREATE_FAILED | UPDATE_FAILED)
      # Until the stack has been created once, a failure keeps what was made (the tables
      # above all: they are retained and would block a retry), and the next deploy goes
      # on from there. Once it exists, a failed update rolls back.
      rollback=(--disable-rollback)
      ;;
    ROLLBACK_COMPLETE | ROLLBACK_FAILED)
      die "$STACK is $STATUS: its creation failed and was rolled back. Delete it with 'make destroy STAGE=$STAGE' (read what it says about tables) and deploy again"
      ;;
    UPDATE_ROLLBACK_FAILED)
      die "$STACK is UPDATE_ROLLBACK_FAILED: fix the cause, then 'aws cloudformation continue-update-rollback --stack-name $STACK'"
      ;;
    *_IN_PROGRESS)
      die "$STACK is $STATUS: wait for it to finish (aws cloudformation describe-stacks --stack-name $STACK)"
      ;;
  esac

  say "deploying $STACK to account $ACCOUNT in $REGION"
  if [ "$STATUS" = NONE ]; then
    local keep
    keep=$(sweep_concurrency "$@")
    if [ -n "$keep" ]; then
      set -- "$@" "$keep"
    fi
  fi
  upload "$STATUS"

  local args=(--template-file "$PACKAGED" --stack-name "$STACK"
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset "${rollback[@]}")
  if [ "$(wc -c <"$PACKAGED")" -gt "$INLINE_TEMPLATE_LIMIT" ]; then
    args+=(--s3-bucket "$BUCKET")
  fi
  if [ $# -gt 0 ]; then
    # Parameters left out keep the value of the last deploy (or their default on the first).
    say "parameters given: $(printf '%s ' "${@%%=*}")"
    args+=(--parameter-overrides "$@")
  fi
  if ! aws cloudformation deploy "${args[@]}"; then
    show_failures "$STACK"
    describe_stack "$STACK"
    die "the deploy of $STACK failed ($STATUS); run 'make deploy' again once the cause is fixed"
  fi

  describe_stack "$STACK"
  local endpoint topic dashboard
  endpoint=$(output EndpointURL)
  topic=$(output OperationsTopicArn)
  dashboard=$(output DashboardUrl)
  cat <<EOF

$STACK is deployed in account $ACCOUNT, region $REGION.

  API and console (EndpointURL):  ${endpoint:-(no EndpointURL output)}
  Operations topic:               ${topic:-(no OperationsTopicArn output)}
  Dashboard:                      ${dashboard:-(no DashboardUrl output)}

Make the first admin key (its token is printed once):

  AWS_REGION=$REGION .venv/bin/python -m oncall_admin create-key --stage $STAGE --role admin --user <you> --name "<you> (admin)"

Then follow docs/deploy.md from "The first admin key".
EOF
}

# --- destroy ---------------------------------------------------------------------------

confirm_destroy() {
  if [ "${CONFIRM:-}" = "$STACK" ]; then
    return
  fi
  # Without a terminal the script has stopped already (above).
  echo "This deletes the stack $STACK in account $ACCOUNT, region $REGION: its API, functions," >&2
  echo "alarms and topics. Paging stops. The DynamoDB tables and their data are kept." >&2
  local answer
  read -r -p "Type the stack name to go on: " answer
  [ "$answer" = "$STACK" ] || die "not confirmed; nothing was deleted"
}

# Deletes a stack and waits until it is gone. $2: what to add when that fails.
delete_stack() {
  say "deleting $1"
  aws cloudformation delete-stack --stack-name "$1"
  settle "$1"
  if [ "$STATUS" != NONE ] && [ "$STATUS" != DELETE_COMPLETE ]; then
    show_failures "$1"
    die "$1 could not be deleted ($STATUS)${2:+; $2}"
  fi
  say "deleted $1"
}

destroy() {
  confirm_destroy
  describe_stack "$STACK"
  if [ "$STATUS" = NONE ]; then
    say "there is no stack $STACK"
  else
    delete_stack "$STACK" "the artifacts bucket is left as it is"
  fi

  local tables
  if ! tables=$(aws dynamodb list-tables --output text \
    --query "TableNames[?starts_with(@, 'oncall-$STAGE-')]" 2>/dev/null); then
    echo "Could not list the DynamoDB tables; the stage's are named oncall-$STAGE-<concept> and are kept." >&2
  elif [ -z "$tables" ]; then
    echo "No DynamoDB tables named oncall-$STAGE-* are left in $REGION." >&2
  else
    # The names are split on purpose: one a line.
    # shellcheck disable=SC2086
    cat >&2 <<EOF

These DynamoDB tables are KEPT, with their data (DeletionPolicy Retain, deletion protection on):
$(printf '  %s\n' $tables)
A later 'make deploy STAGE=$STAGE' fails while they exist: CloudFormation will not create a
table whose name is taken. To delete them deliberately (back up first if the data matters:
aws dynamodb create-backup --table-name <table> --backup-name <table>-final):

  for table in \$(aws dynamodb list-tables --region $REGION --output text --query "TableNames[?starts_with(@, 'oncall-$STAGE-')]"); do
    aws dynamodb update-table --region $REGION --table-name "\$table" --no-deletion-protection-enabled >/dev/null
    aws dynamodb wait table-exists --region $REGION --table-name "\$table"
    aws dynamodb delete-table --region $REGION --table-name "\$table" >/dev/null && echo "deleted \$table"
  done

EOF
  fi

  describe_stack "$ARTIFACTS_STACK"
  if [ "$STATUS" = NONE ]; then
    say "there is no stack $ARTIFACTS_STACK"
    return
  fi
  local bucket
  bucket=$(output BucketName)
  if [ -n "$bucket" ]; then
    say "emptying s3://$bucket"
    aws s3 rm "s3://$bucket" --recursive --only-show-errors
  fi
  delete_stack "$ARTIFACTS_STACK"
}

case "$ACTION" in
  upload)
    describe_stack "$STACK"
    upload "$STATUS"
    ;;
  deploy) deploy "$@" ;;
  destroy) destroy ;;
esac
