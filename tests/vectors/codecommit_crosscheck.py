#!/usr/bin/env python3
"""Optional manual check: the CodeCommit vectors in sigv4.json equal what the real tools print.

Runs the AWS CLI's ``aws codecommit credential-helper get`` (byte-exact stdout) and git-remote-codecommit's
``git_url`` at the vectors' frozen clock. Needs both packages, which the project venv does not carry:

    python3 -m venv /tmp/ccvenv && /tmp/ccvenv/bin/pip install awscli git-remote-codecommit
    /tmp/ccvenv/bin/python tests/vectors/codecommit_crosscheck.py

Exits non-zero on any difference.
"""

import datetime
import json
import os
import pathlib
import subprocess
import sys
import types

VECTORS = pathlib.Path(__file__).with_name("sigv4.json")
FROZEN = datetime.datetime(2026, 11, 24, 12, 34, 56)


class FrozenDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FROZEN


def frozen_module():
    return types.SimpleNamespace(datetime=FrozenDateTime)


def run_awscli_helper():
    """Child mode: the AWS CLI's credential helper with its clock frozen (stdin/stdout are git's)."""
    import awscli.customizations.codecommit as helper
    from awscli.clidriver import create_clidriver

    helper.datetime = frozen_module()  # older releases call datetime.datetime.utcnow()
    helper.get_current_datetime = lambda *args, **kwargs: FROZEN  # newer ones use awscli.compat's helper
    sys.exit(create_clidriver().main(["codecommit", "credential-helper", "get"]))


def main():
    import botocore.credentials
    import git_remote_codecommit

    git_remote_codecommit.datetime = frozen_module()
    failures = 0
    for case in json.loads(VECTORS.read_text(encoding="utf-8"))["codecommit"]:
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=case["access_key_id"],
            AWS_SECRET_ACCESS_KEY=case["secret_access_key"],
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        env.pop("AWS_SESSION_TOKEN", None)
        if case["session_token"]:
            env["AWS_SESSION_TOKEN"] = case["session_token"]
        git_input = f"protocol=https\nhost={case['host']}\npath={case['repo_path'][1:]}\n\n"
        child = subprocess.run(
            [sys.executable, __file__, "--awscli-helper"], input=git_input, capture_output=True, text=True, env=env
        )
        expected = f"username={case['expected']['username']}\npassword={case['expected']['password']}\n"
        cli_ok = child.returncode == 0 and child.stdout == expected

        creds = botocore.credentials.Credentials(case["access_key_id"], case["secret_access_key"], case["session_token"])
        url = git_remote_codecommit.git_url(case["repo_path"].rsplit("/", 1)[1], "v1", case["region"], creds)
        grc_ok = f":{case['expected']['password']}@{case['host']}" in url

        print(f"{case['name']}: aws cli {'ok' if cli_ok else 'DIFFERS'}, git-remote-codecommit {'ok' if grc_ok else 'DIFFERS'}")
        if not cli_ok:
            print(f"  aws cli printed {child.stdout!r} (exit {child.returncode}) {child.stderr[:300]}")
        failures += (not cli_ok) + (not grc_ok)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    if sys.argv[1:] == ["--awscli-helper"]:
        run_awscli_helper()
    else:
        main()
