"""Operator commands.

Create the first API key of a stage, straight into its table:

    python -m oncall_admin create-key --stage prod --role admin --user alice --name "alice's admin key"

Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION, ...)
and the same table names the stage's functions use. The token is printed once;
only its SHA-256 is stored.

Configuration as code, over the HTTP API of any stage or `make run` (docs/config-as-code.md):

    python -m oncall_admin export --url URL --key KEY > oncall.yaml
    python -m oncall_admin apply oncall.yaml --url URL --key KEY [--yes] [--no-delete]
"""

import argparse
import json
import os
import sys

from oncall_admin.commands import add_commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oncall_admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key and print its token once")
    create.add_argument("--stage", required=True, help="dev, prod, or local (with AWS_ENDPOINT_URL_DYNAMODB)")
    create.add_argument("--role", required=True, choices=["admin", "responder", "integration"])
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--user", help="the user an admin or responder key acts as")
    create.add_argument("--services", help="comma-separated services an integration key may trigger")
    add_commands(commands)
    args = parser.parse_args(argv)
    if args.command != "create-key":
        return args.run(args)

    # The stage decides the table names; set it before chalicelib reads its settings.
    os.environ["ONCALL_STAGE"] = args.stage
    from chalicelib.api.payloads import KeyBody
    from chalicelib.apikey import keys
    from chalicelib.errors import DomainError

    fields = {"name": args.name, "role": args.role, "user": args.user}
    if args.services:
        fields["services"] = [service.strip() for service in args.services.split(",") if service.strip()]
    try:
        body = KeyBody.model_validate({name: value for name, value in fields.items() if value is not None})
        created = keys.create(body, created_by="oncall_admin")
    except DomainError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(created, indent=2))
    print("Keep the token now: it is shown only this once.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
