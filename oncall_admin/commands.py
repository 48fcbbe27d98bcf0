"""`export` and `apply`: configuration as code over the HTTP API (docs/config-as-code.md).

Exit codes: 0 done (or, without --yes, the plan printed); 1 something could not be
applied; 2 the file is invalid, the server could not be read, or the command line is wrong."""

import argparse
import os
import sys
from pathlib import Path

from oncall_admin import apply, config, export
from oncall_admin.client import ApiError, Client

APPLIED, NOT_APPLIED, REFUSED = 0, 1, 2


def add_commands(commands) -> None:
    out = commands.add_parser(
        "export",
        help="print the configuration of a server as YAML",
        description="Print users, contact methods, notification rules, escalation policies, rotations, shifts, "
        "overrides, channels, heartbeats and maintenance windows as YAML, without ids or secrets. Shifts, overrides "
        "and windows that have ended are left out unless --include-ended.",
    )
    _server_options(out)
    out.add_argument("--include-ended", action="store_true", help="also shifts, overrides and windows already over")
    out.set_defaults(run=run_export)

    into = commands.add_parser(
        "apply",
        help="make a server's configuration what a YAML file says",
        description="Print what differs between the file and the server (+ create, ~ change, - delete, ! cannot "
        "be applied as written); with --yes, write it. Objects on the server that the file does not have are "
        "deleted unless --no-delete.",
    )
    into.add_argument("file", type=Path, help="the YAML file (as export writes it)")
    _server_options(into)
    into.add_argument("--yes", action="store_true", help="write the changes (without it nothing is written)")
    into.add_argument("--no-delete", action="store_true", help="keep objects the file does not have")
    into.set_defaults(run=run_apply)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("ONCALL_URL"), help="the API's base URL (or ONCALL_URL)")
    parser.add_argument(
        "--key", default=os.environ.get("ONCALL_KEY"), help="an admin API key (or ONCALL_KEY, off the command line)"
    )


def _client(args) -> Client | None:
    if not args.url or not args.key:
        missing = "--url (or ONCALL_URL)" if not args.url else "--key (or ONCALL_KEY)"
        print(f"error: {missing} is needed", file=sys.stderr)
        return None
    try:
        return Client(args.url, args.key)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def run_export(args) -> int:
    client = _client(args)
    if client is None:
        return REFUSED
    try:
        snapshot = export.read(client, include_ended=args.include_ended)
    except ApiError as error:
        print(f"error: could not read the configuration: {error}", file=sys.stderr)
        return REFUSED
    for kind in sorted(snapshot.missing):
        print(f"note: this server has no {export.OPTIONAL_LISTS[kind]} route; no {kind}s exported", file=sys.stderr)
    if snapshot.duplicates:
        print(f"note: {len(snapshot.duplicates)} duplicate objects exported once each", file=sys.stderr)
    sys.stdout.write(config.dump(snapshot.config))
    return APPLIED


def run_apply(args) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"error: cannot read {args.file}: {error}", file=sys.stderr)
        return REFUSED
    try:
        wanted, replaceable = config.load(text, str(args.file))
    except config.FileProblems as problems:
        for problem in problems.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("Nothing was written.", file=sys.stderr)
        return REFUSED
    client = _client(args)
    if client is None:
        return REFUSED
    try:
        mentioned = tuple(wanted.services())
        snapshot = export.read(client, services=mentioned)
    except ApiError as error:
        print(f"error: could not read the server's configuration: {error}", file=sys.stderr)
        return REFUSED
    result = apply.plan(snapshot, wanted, replaceable, no_delete=args.no_delete)
    apply.print_plan(result, sys.stdout, steps=not args.yes)
    if not args.yes:
        if result.writes:
            print("Nothing was written: run again with --yes to apply.")
        return APPLIED
    if not result.steps:
        return APPLIED
    failures = apply.Applier(client, snapshot, wanted, sys.stdout).run(result)
    applied = len(result.steps) - failures
    print(f"Applied {applied} of {len(result.steps)}; {failures} not applied.")
    return NOT_APPLIED if failures else APPLIED
