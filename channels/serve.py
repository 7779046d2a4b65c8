"""`rasa run` with the HTTP API's secrets read inside the process, never from its command line.

    python -m channels.serve run --model models/triage.tar.gz --enable-api ...

Rasa takes its API token and JWT secret only as command-line options, and a command line is
readable by every local user (`ps`, /proc). Here they come from the environment instead and are
added to Rasa's arguments inside this process, where no other user can read them:

- RASA_API_TOKEN, or RASA_API_TOKEN_FILE (a file holding it: `./dev run` keeps one in var/),
  becomes --auth-token;
- RASA_JWT_SECRET (and RASA_JWT_METHOD, default HS256) becomes --jwt-secret and --jwt-method.

With any of them the API is switched on (--enable-api); with none it stays as the arguments say.
Everything else goes to `rasa` unchanged. It lives in `channels` (whose package import does
nothing) rather than `components`, whose import installs the patches that must come after Rasa
has set up its logging, when the model loads them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def secret_arguments(environ: Mapping[str, str]) -> list[str]:
    """The options the environment's secrets stand for (as --flag=value: a secret may start with -)."""
    token = environ.get("RASA_API_TOKEN") or ""
    token_file = environ.get("RASA_API_TOKEN_FILE") or ""
    if not token and token_file:
        token = Path(token_file).read_text().strip()
    flags = [f"--auth-token={token}"] if token else []
    if environ.get("RASA_JWT_SECRET"):
        flags += [
            f"--jwt-secret={environ['RASA_JWT_SECRET']}",
            f"--jwt-method={environ.get('RASA_JWT_METHOD') or 'HS256'}",
        ]
    return flags


def rasa_arguments(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    args = list(argv)
    secrets = secret_arguments(environ)
    if secrets and args[:1] == ["run"]:
        if "--enable-api" not in args:
            args.append("--enable-api")
        args += secrets
    return args


def main() -> None:
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *rasa_arguments(sys.argv[1:], os.environ)]
    rasa_main()


if __name__ == "__main__":
    main()
