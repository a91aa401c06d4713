"""The app's secrets, resolved on the server with the instance's role, all before anything stops.

References are parsed by ``contract.parse_secret_ref`` (the action checks the same
text before sending). Values are returned, never printed: every message names
the variable, the reference and what to allow, not what was found.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Dict, List, Mapping, Optional

from ssm_action.agent.aws import Aws, AwsError
from ssm_action.agent.errors import StepError
from ssm_action.contract.secret_refs import SecretRef, parse_secret_ref

NOT_FOUND = {"ParameterNotFound", "ParameterVersionNotFound", "ResourceNotFoundException"}
DENIED = {"AccessDeniedException", "AccessDenied"}
KMS = {"InvalidKeyId", "DecryptionFailure", "KMSAccessDeniedException", "KMSDisabledException",
       "KMSInvalidStateException", "KMSNotFoundException"}
ACTION = {"ssm": "ssm:GetParameter", "secretsmanager": "secretsmanager:GetSecretValue"}


def refs_from(mapping: Mapping[str, str]) -> Dict[str, SecretRef]:
    """Name -> reference text (the agent's parameter) parsed; StepError listing every bad one."""
    refs: Dict[str, SecretRef] = {}
    errors: List[str] = []
    for name, text in mapping.items():
        try:
            refs[name] = parse_secret_ref(text)
        except ValueError as exc:
            errors.append("%s: %s" % (name, exc))
    if errors:
        raise StepError("app secrets: " + "; ".join(errors))
    return refs


def resource_arn(aws: Aws, ref: SecretRef) -> str:
    """The IAM resource of ``ref`` (a name-based secret ARN ends in AWS's random suffix)."""
    if ref.ident.startswith("arn:"):
        return ref.ident
    if ref.source == "ssm":
        return aws.arn("ssm", "parameter/" + ref.ident.lstrip("/"))
    return aws.arn("secretsmanager", "secret:%s-??????" % ref.ident)


def explain(aws: Aws, name: str, ref: SecretRef, error: AwsError) -> str:
    """What went wrong for one secret and what to do, naming the IAM action and resource."""
    what = "%s (%s:%s)" % (name, ref.source, ref.ident)
    allow = "allow %s on %s in the instance role's policy" % (
        ACTION[ref.source], resource_arn(aws, ref))
    if error.code in NOT_FOUND:
        return "%s: not found in %s: create it, or fix the reference" % (what, aws.region)
    if error.code in DENIED:
        kms = ("; a SecureString encrypted with a customer managed key also needs kms:Decrypt on "
               "that key" if ref.source == "ssm" else
               "; a secret encrypted with a customer managed key also needs kms:Decrypt on it")
        return "%s: access denied: %s%s" % (what, allow, kms)
    if error.code in KMS:
        return "%s: cannot be decrypted (%s): allow kms:Decrypt on its KMS key to the instance " \
               "role, and check the key is enabled" % (what, error.code)
    return "%s: %s" % (what, error)


def from_json(name: str, ref: SecretRef, text: str) -> str:
    """The value of ``ref.key`` in the secret's JSON object (text of a non-string value)."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    where = "%s (secretsmanager:%s#%s)" % (name, ref.ident, ref.key)
    if not isinstance(doc, dict):
        raise StepError("%s: the secret is not a JSON object, so it has no key %r: drop #%s or "
                        "store the secret as JSON" % (where, ref.key, ref.key))
    if ref.key not in doc:
        raise StepError("%s: the secret's JSON has no key %r (it has: %s)" % (
            where, ref.key, ", ".join(sorted(map(str, doc))) or "no keys"))
    value = doc[ref.key]
    return value if isinstance(value, str) else json.dumps(value)


def fetch(aws: Aws, name: str, ref: SecretRef) -> str:
    """One secret's value."""
    if ref.source == "ssm":
        answer = aws.call("ssm", "AmazonSSM.GetParameter",
                          {"Name": ref.ident, "WithDecryption": True})
        value = (answer.get("Parameter") or {}).get("Value")
        if not isinstance(value, str):
            raise StepError("%s (ssm:%s): GetParameter gave no value" % (name, ref.ident))
        return value
    answer = aws.call("secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": ref.ident})
    text: Optional[str] = answer.get("SecretString")
    if text is None and isinstance(answer.get("SecretBinary"), str):
        try:
            text = base64.b64decode(answer["SecretBinary"]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise StepError("%s (secretsmanager:%s): the secret is binary, not text: store it as "
                            "a string" % (name, ref.ident))
    if text is None:
        raise StepError("%s (secretsmanager:%s): GetSecretValue gave no value" % (name, ref.ident))
    return from_json(name, ref, text) if ref.key else text


def resolve(refs: Mapping[str, SecretRef], aws: Optional[Aws] = None) -> Dict[str, str]:
    """Every secret's value by variable name; StepError naming each one that failed.

    Call it before the app is stopped: a secret that cannot be read leaves the running
    version alone. Every reference is tried so one message lists all the problems.
    """
    if not refs:
        return {}
    aws = aws or Aws()
    values: Dict[str, str] = {}
    problems: List[str] = []
    for name, ref in refs.items():
        try:
            values[name] = fetch(aws, name, ref)
        except AwsError as exc:
            if exc.code in ("IMDSUnavailable", "NoInstanceRole", "NoCredentials", "NoRegion"):
                raise StepError("app secrets cannot be read: %s" % exc)
            problems.append(explain(aws, name, ref, exc))
        except StepError as exc:
            problems.append(str(exc))
    if problems:
        raise StepError("app secrets: " + "; ".join(problems))
    return values
