"""Redaction: what every report passes its text through, so that no credential reaches a person.

The suite itself never prints a token: it never requests one and never reads Secret data. But the
reports quote what others wrote (container logs, Events, add-ons' answers, ConfigMaps a student filled
with credentials), and those may carry secrets. ``redact`` replaces the credential shapes found in
text; ``redact_obj`` does the same for a JSON-like object and also blanks what is secret by its place
(a Secret's ``data``, an env var named like a password, a kubeconfig's ``token``).

Precise rather than greedy: a shape is only redacted when it looks like a credential (a keyword
followed by ``=`` or ``:`` and a value, a token long enough to be one, a JWT's three segments), so that
the suite's own messages ("can get a token through TokenRequest", "authorization is not as the profile
requires") pass unchanged. Redacting twice changes nothing more (the markers are never matched).

The marker for a token never contains the word "Bearer" and a private key's never "PRIVATE KEY", so
a check of any output for those words still finds real leaks only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Keywords that name a credential when a value follows them: ``password=…``, ``"apiKey": "…"``,
# ``client-key-data: …``, ``?access_token=…``. A key may carry a prefix (``db_password``,
# ``clientSecret``, ``x-auth-token``); the keyword must end it.
_KEYWORDS = (
    r"password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|"
    r"signing[_-]?key|client[_-]key[_-]data|client[_-]certificate[_-]data|credentials?"
)
# A key is a run of name characters that ends in a keyword; it only starts where a run starts (the
# look-behind), so the search stays linear. Only such keys match: a value keyed otherwise ("message":
# "… api_key=…") is left to be searched.
_KEY = rf"(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]*?(?:{_KEYWORDS})"
_ENDS_IN_KEYWORD = re.compile(rf"(?:{_KEYWORDS})$", re.IGNORECASE)
# Values that are no secret however they are keyed: empty, booleans, nulls, or already redacted.
_NOT_SECRET = {"", "true", "false", "null", "none", "nil", "<none>", "~", "''", '""', REDACTED}
_KEY_VALUE = re.compile(
    rf"(?P<key>{_KEY})(?P<sep>[\"']?\s*(?:=|:(?!//))\s*)"
    r"(?P<value>\"[^\"\r\n]*\"|'[^'\r\n]*'|(?![\[{(|>])[^\s\"',;&}\]\)]+)",
    re.IGNORECASE,
)

_PEM = re.compile(
    r"-----BEGIN (?P<label>(?:[A-Z0-9]+ )*PRIVATE KEY)-----.*?(?:-----END (?P=label)-----|\Z)", re.DOTALL
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(?P<head>(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@\"']+:)(?P<password>[^\s/@\"']+)(?=@)")
_AUTHORIZATION = re.compile(
    r"(?P<key>\b(?:proxy-)?authorization)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:bearer|basic|token|digest|negotiate|apikey|aws4-hmac-sha256)\s+[^\s\"',;]+"
    r"|(?!\[redacted)[A-Za-z0-9._~+/=-]{12,})",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b[Bb]earer\s+(?P<token>[A-Za-z0-9._~+/-]{8,}=*)")
_PROVIDER_TOKENS = (
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,255}\b"), "[redacted github token]"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"), "[redacted github token]"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[redacted aws key]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), "[redacted slack token]"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "[redacted google key]"),
    (re.compile(r"\b[rs]k_live_[0-9A-Za-z]{16,}\b"), "[redacted stripe key]"),
)

# Names of env vars and keys whose value is secret whatever it looks like.
_SECRET_ENV = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY|CREDENTIAL", re.IGNORECASE)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redact(text: str) -> str:
    """``text`` with every credential shape replaced by a marker: private keys (PEM), JWTs, passwords in
    URLs, Authorization headers, bearer tokens, ``key=value`` and ``key: value`` credentials, and the
    tokens of GitHub, AWS, Slack, Google and Stripe."""
    if not text:
        return text
    text = _PEM.sub("[redacted private key]", text)
    text = _AUTHORIZATION.sub(lambda m: m["key"] + m["sep"] + REDACTED, text)
    text = _BEARER.sub(_bearer, text)
    text = _JWT.sub("[redacted jwt]", text)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + REDACTED, text)
    text = _KEY_VALUE.sub(_key_value, text)
    for pattern, marker in _PROVIDER_TOKENS:
        text = pattern.sub(marker, text)
    return text


def _bearer(match: re.Match[str]) -> str:
    token = match["token"]
    if not any(c.isdigit() for c in token) and len(token) < 20:
        return match[0]  # a word, not a token: "bearer authentication"
    return "[redacted token]"


def _key_value(match: re.Match[str]) -> str:
    value = match["value"]
    inner = value[1:-1] if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1 else value
    if inner.strip().lower() in _NOT_SECRET or inner.startswith("[redacted"):
        return match[0]
    quote = value[0] if value is not inner else ""
    return f"{match['key']}{match['sep']}{quote}{REDACTED}{quote}"


def redact_obj(obj: Any) -> Any:
    """A copy of a JSON-like object with secrets blanked: a Secret's ``data`` and ``stringData`` values
    (and its last-applied annotation, which holds them too), env vars named like *TOKEN*, *PASSWORD*,
    *SECRET* or *KEY*, string values under credential keys (``token``, ``client-key-data``,
    ``password``, ``clientSecret``...), and every other string through ``redact``."""
    return _walk(obj)


def _walk(obj: Any) -> Any:
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, (list, tuple)):
        items = [_walk(item) for item in obj]
        return items if isinstance(obj, list) else tuple(items)
    if not isinstance(obj, Mapping):
        return obj
    secret = obj.get("kind") == "Secret"
    env_name = obj.get("name") if isinstance(obj.get("name"), str) and "value" in obj else None
    result: dict[Any, Any] = {}
    for key, value in obj.items():
        name = str(key)
        if secret and name in ("data", "stringData") and isinstance(value, Mapping):
            result[key] = {k: REDACTED for k in value}
        elif secret and name == "metadata" and isinstance(value, Mapping):
            result[key] = _secret_metadata(value)
        elif name == "value" and env_name is not None and _SECRET_ENV.search(env_name) and isinstance(value, str):
            result[key] = REDACTED if value else value
        elif isinstance(value, str) and value and _ENDS_IN_KEYWORD.search(name) and value.lower() not in _NOT_SECRET:
            result[key] = REDACTED
        else:
            result[key] = _walk(value)
    return result


def _secret_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = dict(_walk(dict(metadata)))
    annotations = dict(cleaned.get("annotations") or {})
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = REDACTED
        cleaned["annotations"] = annotations
    return cleaned
