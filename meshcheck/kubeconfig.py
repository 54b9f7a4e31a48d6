"""Which cluster, context and user a kubeconfig selects, read as kubectl reads it, before any request.

The Kubernetes client says what went wrong in its own terms ("Expected object with name in
kube-config/contexts list", or a 401 when an exec credential plugin is not installed and it
logged the error and went on without credentials). Reading the kubeconfig first lets the suite
name the real cause: no current context (and the contexts to choose from), an unknown context,
a credential plugin that is not installed. Credentials are never read into messages: only the
names of contexts, users and plugin commands are.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any

import yaml

from meshcheck.errors import ConfigError


@dataclass(frozen=True)
class Selection:
    """What a kubeconfig selects: the files (os.pathsep-joined), the context and its user's name."""

    paths: str
    context: str
    user: str
    exec_command: str = ""  # the user's exec credential plugin, if it has one
    exec_hint: str = ""  # the plugin's installHint
    contexts: tuple[str, ...] = field(default=())


def merged_paths(variable: str) -> str | None:
    """KUBECONFIG as kubectl reads it: a list of files, merged, the missing ones skipped.

    Only when none of the files exists is the first one named, so the error says which file was expected.
    """
    paths = [p for p in variable.split(os.pathsep) if p]
    existing = [p for p in paths if os.path.exists(p)]
    if existing:
        return os.pathsep.join(existing)
    return paths[0] if paths else None


def select(paths: str, context: str | None) -> Selection:
    """The context to use (the given one, else the current one, else the only one) and its user.

    Merged as kubectl merges: for each named entry and for current-context the first file that
    sets it wins.
    """
    documents = [_read(path) for path in paths.split(os.pathsep)]
    contexts = _named(documents, "contexts")
    users = _named(documents, "users")
    current = next((str(d["current-context"]) for d in documents if d.get("current-context")), "")
    names = tuple(contexts)
    where = f"kubeconfig {paths}"
    if context is None:
        if current:
            context = current
        elif len(names) == 1:
            context = names[0]
        elif not names:
            raise ConfigError(f"{where} has no contexts: it is not a kubeconfig for a cluster "
                              "(compare it with 'kubectl config view')")
        else:
            raise ConfigError(f"{where} names no current context and has several: pass one with "
                              f"--context ({', '.join(names)})")
    if context not in contexts:
        known = f"its contexts are {', '.join(names)}" if names else "it has no contexts"
        which = "its current context" if context == current else "context"
        raise ConfigError(f"{which} {context!r} is not in {where}; {known}: pass one with --context "
                          "('kubectl config get-contexts' lists them)")
    user_name = str((contexts[context].get("context") or {}).get("user") or "")
    user = (users.get(user_name) or {}).get("user") or {}
    plugin = user.get("exec") if isinstance(user, dict) else None
    plugin = plugin if isinstance(plugin, dict) else {}
    hint = " ".join(str(plugin.get("installHint") or "").split())[:200]
    return Selection(paths, context, user_name, str(plugin.get("command") or ""), hint, names)


def missing_exec_plugin(selection: Selection) -> str | None:
    """Why the selected user's exec credential plugin cannot run, or None when it can (or there is none).

    Cloud kubeconfigs (GKE, EKS, AKS, OIDC) get their tokens from such a command; the client logs
    a failure to start it and goes on without credentials, so the server's 401 hides the cause.
    """
    command = selection.exec_command
    if not command:
        return None
    if os.sep in command:
        base = os.path.dirname(selection.paths.split(os.pathsep)[0])
        found = os.path.join(base, command) if not os.path.isabs(command) else command
        if os.access(found, os.X_OK):
            return None
    elif shutil.which(command):
        return None
    hint = selection.exec_hint
    return (
        f"user {selection.user!r} of context {selection.context!r} gets its credentials from the exec "
        f"plugin {command!r}, which is not installed here (not found on PATH)"
        + (f"; its install hint: {hint}" if hint else "")
        + ": install it, or use a kubeconfig whose user carries a token or a client certificate"
    )


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path) as stream:
            document = yaml.safe_load(stream)
    except OSError as exc:
        raise ConfigError(f"kubeconfig {path} cannot be read ({exc.strerror or exc.__class__.__name__}): "
                          "check the path and its permissions") from None
    except yaml.YAMLError:
        raise ConfigError(f"kubeconfig {path} cannot be read (it is not valid YAML): "
                          "check that it is a valid kubeconfig (kubectl config view)") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"kubeconfig {path} cannot be read (it is not a mapping): "
                          "check that it is a valid kubeconfig (kubectl config view)")
    return document


def _named(documents: list[dict[str, Any]], section: str) -> dict[str, dict[str, Any]]:
    """Entries of a list section by name; the first file that names an entry wins, as in kubectl."""
    found: dict[str, dict[str, Any]] = {}
    for document in documents:
        for entry in document.get(section) or []:
            if isinstance(entry, dict) and entry.get("name") and str(entry["name"]) not in found:
                found[str(entry["name"])] = entry
    return found
