"""The SAM transform of a template, offline, as `sam deploy` would have CloudFormation run it.

Reads the template named by argv[1] and a JSON object of parameter values (argv[2]), expands
AWS::LanguageExtensions (Fn::ForEach, with the SAM CLI's own code), runs the AWS::Serverless-2016-10-31
transform with samtranslator (the library CloudFormation's SAM transform is built from), and prints the plain
CloudFormation template as JSON. Function code locations are replaced by a placeholder S3 URI first, as
`sam package` would: the box runs the functions in-process and never reads their code.
"""

import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
PLACEHOLDER_CODE = "s3://kiln-box-placeholder/functions.zip"


class NoManagedPolicies:
    """Managed policy names are looked up in IAM; the template names none, so nothing is looked up."""

    def load(self):
        return {}


def transforms(template):
    value = template.get("Transform", [])
    return value if isinstance(value, list) else [value]


def placeholder_code(template):
    template.setdefault("Globals", {}).setdefault("Function", {})
    if "CodeUri" in template["Globals"]["Function"]:
        template["Globals"]["Function"]["CodeUri"] = PLACEHOLDER_CODE
    for resource in template.get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            properties = resource.setdefault("Properties", {})
            if "InlineCode" not in properties:
                properties["CodeUri"] = PLACEHOLDER_CODE


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    parameters = json.loads(sys.argv[2])
    if LANGUAGE_EXTENSIONS in transforms(template):
        template = expand_language_extensions(template, parameters, enabled=True).expanded_template
        rest = [t for t in transforms(template) if t != LANGUAGE_EXTENSIONS]
        template["Transform"] = rest[0] if len(rest) == 1 else rest
        if not rest:
            del template["Transform"]
    placeholder_code(template)
    if transforms(template):
        template = transform(template, parameters, NoManagedPolicies())
    json.dump(template, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # every failure is reported on stderr for the box to quote
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
