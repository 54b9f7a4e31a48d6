"""Writes to the simulated API server, a faithful subset of kube-apiserver's (for a user whose role
allows them; the scenarios' read-only user gets 403 before anything here runs).

- ``POST`` to a collection creates (201; 409 AlreadyExists ``deployments.apps "x" already exists``);
  ``POST .../serviceaccounts/<name>/token`` is a TokenRequest (201).
- ``PATCH`` with ``application/apply-patch+yaml`` is server-side apply (staging/src/k8s.io/apiserver/
  pkg/endpoints/handlers/patch.go): ``fieldManager`` is required (422 Invalid ``PatchOptions.meta.k8s.io ""
  is invalid: fieldManager: Required value: is required for apply patch``, ValidatePatchOptions); the
  body's apiVersion must be the URL's (400 ``Incorrect version specified in apply patch``) and its
  ``metadata.managedFields`` unset; it creates (201) or merges (200, see ``merge``).
  ``application/merge-patch+json`` and ``application/strategic-merge-patch+json`` patch an existing
  object (404 if there is none); other patch types are 415.
- ``PUT`` replaces an existing object (409 Conflict on a stale ``resourceVersion``).
- ``DELETE`` answers the deleted object or a Status Success (see ``resources``), 404 NotFound when there
  is none; a Namespace takes its objects with it, a CRD its custom resources.
- Name and namespace: a name in the body that differs from the URL's is 400 ``the name of the object
  (a) does not match the name on the URL (b)``; a namespace likewise (400 ``the namespace of the provided
  object does not match the namespace sent on the request``, rest.EnsureObjectNamespaceMatchesRequestNamespace);
  creating in a namespace that does not exist is 404 (``admission``).
- ``dryRun=All`` runs everything but the storing.

Every write that stores something runs the reconciler at once (``reconcile``), as the controllers
watching the API would react within milliseconds.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import yaml

from meshcheck.sim import admission, defaults, merge, validation
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.resources import Registry, Resource
from meshcheck.sim.statuses import status
from meshcheck.sim.store import Store, stamp
from meshcheck.sim.world import World

Obj = dict[str, Any]
APPLY = ("application/apply-patch+yaml",)
MERGE = ("application/merge-patch+json", "application/strategic-merge-patch+json")
PATCH_TYPES = ("application/json-patch+json", *MERGE, *APPLY)


class Writer:
    """Carries out one write on the world's objects, with the server's checks and bookkeeping."""

    def __init__(self, world: World, store: Store, registry: Registry, reconcile: Callable[[], None]) -> None:
        self.world = world
        self.store = store
        self.registry = registry
        self.reconcile = reconcile

    def handle(self, request: SimRequest, resource: Resource, version: str, namespace: str | None,
               rest: list[str]) -> SimResponse:
        """``rest`` is what follows the resource's namespace in the path: [plural], [plural, name] or
        [plural, name, subresource]."""
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        method = request.method
        dry = "All" in (request.query.get("dryRun") or [])
        with self.world.lock:
            if sub == "token" and resource.plural == "serviceaccounts" and method == "POST":
                return self._token(resource, namespace or "", name)
            if sub:
                return status(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                              "resource")
            if method == "POST" and not name:
                return self._create(request, resource, version, namespace or "", dry)
            if method == "PATCH" and name:
                return self._patch(request, resource, version, namespace or "", name, dry)
            if method == "PUT" and name:
                return self._update(request, resource, version, namespace or "", name, dry)
            if method == "DELETE" and name:
                return self._delete(resource, version, namespace or "", name, dry)
        return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    # --- create ---------------------------------------------------------------------------------

    def _unfit_for_creation(self, resource: Resource, namespace: str, name: str, obj: Obj) -> SimResponse | None:
        """What the API server answers, for a create and for an apply that creates alike, when the new object
        fails validation (422) or its namespace does not exist (404); None when it may be stored."""
        causes = validation.problems(resource, obj)
        if causes:
            return SimResponse.json(validation.invalid_status(resource, name, causes), 422)
        missing = admission.namespace_missing(self.world, resource, namespace)
        return SimResponse.json(missing.body, missing.code) if missing else None

    def _create(self, request: SimRequest, resource: Resource, version: str, namespace: str,
                dry: bool) -> SimResponse:
        obj, error = _decode(request.body, resource, request.headers.get("content-type", ""))
        if error:
            return error
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
        refused = _place(resource, obj, namespace, None)
        if refused:
            return refused
        name = metadata.get("name", "")
        unfit = self._unfit_for_creation(resource, namespace, name, obj)
        if unfit:
            return unfit
        if self.store.get(resource.key, namespace if resource.namespaced else "", name) is not None:
            return _already_exists(resource, name)
        manager = _manager(request)
        fields = merge.fields_v1(obj, owned_maps=True)
        return self._store_new(resource, version, obj, manager, "Update", fields, dry)

    def _store_new(self, resource: Resource, version: str, obj: Obj, manager: str, operation: str, fields: Obj,
                   dry: bool) -> SimResponse:
        obj = merge.without_nulls(merge.without_system_fields(obj))
        if resource.status:
            obj["status"] = {}  # the strategies' PrepareForCreate reset a new object's status
        obj, refused = admission.admit(self.world, "CREATE", resource, version, obj)
        if refused:
            return SimResponse.json(refused.body, refused.code)
        obj = self._defaulted(resource, obj, None)
        obj["metadata"]["managedFields"] = [{"manager": manager, "operation": operation,
                                             "apiVersion": resource.api_version(version), "time": stamp(),
                                             "fieldsType": "FieldsV1", "fieldsV1": fields}]
        if dry:
            return SimResponse.json(_typed(resource, version, obj), 201)
        stored = self.store.create(resource.key, _stored_form(resource, version, obj), generation=resource.generation)
        self.reconcile()
        return SimResponse.json(_typed(resource, version, stored), 201)

    # --- patch, apply and update ----------------------------------------------------------------

    def _patch(self, request: SimRequest, resource: Resource, version: str, namespace: str, name: str,
               dry: bool) -> SimResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            return status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                          f"accepted media types include: {', '.join(PATCH_TYPES)}")
        manager = request.arg("fieldManager") or ""
        if content_type in APPLY and not manager:
            return SimResponse.json({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                           "is required for apply patch",
                "reason": "Invalid",
                "details": {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                    {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                     "field": "fieldManager"}]},
                "code": 422,
            }, 422)
        if content_type not in APPLY and "force" in request.query:
            return status(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be '
                          "specified for non-apply patch")
        if content_type == "application/json-patch+json":
            return status(415, "UnsupportedMediaType", "the simulated cluster does not apply JSON patches: use an "
                          "apply or a merge patch")
        try:
            patch = yaml.safe_load(request.body.decode("utf-8")) if request.body else {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            return status(400, "BadRequest", f"error decoding YAML: {' '.join(str(exc).split())}")
        if not isinstance(patch, dict):
            return status(400, "BadRequest", "error decoding YAML: the patch is not an object")
        live = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if content_type in APPLY:
            return self._apply(resource, version, namespace, name, patch, live, manager, dry)
        if live is None:
            return _not_found(resource, name)
        wanted = merge.merge_patch(_typed(resource, version, live), patch)
        return self._replace(resource, version, namespace, name, wanted, live, manager or _manager(request),
                             merge.fields_v1(patch, owned_maps=True), dry)

    def _apply(self, resource: Resource, version: str, namespace: str, name: str, patch: Obj, live: Obj | None,
               manager: str, dry: bool) -> SimResponse:
        expected = resource.api_version(version)
        if patch.get("apiVersion") != expected:
            return status(400, "BadRequest", "Incorrect version specified in apply patch. Specified patch version: "
                          f"{patch.get('apiVersion', '')}, expected: {expected}")
        metadata = patch.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            return status(400, "BadRequest", "error decoding YAML: metadata is not an object")
        if metadata.get("managedFields") is not None:
            return status(400, "BadRequest", "metadata.managedFields must be nil")
        metadata.setdefault("name", name)
        refused = _place(resource, patch, namespace, name)
        if refused:
            return refused
        fields = merge.fields_v1(patch)
        if live is None:
            unfit = self._unfit_for_creation(resource, namespace, name, patch)
            if unfit:
                return unfit
            return self._store_new(resource, version, patch, manager, "Apply", fields, dry)
        applied = merge.without_system_fields(patch)
        if resource.status:
            applied.pop("status", None)
        wanted = merge.apply(_typed(resource, version, live), applied)
        return self._replace(resource, version, namespace, name, wanted, live, manager, fields, dry,
                             operation="Apply")

    def _update(self, request: SimRequest, resource: Resource, version: str, namespace: str, name: str,
                dry: bool) -> SimResponse:
        obj, error = _decode(request.body, resource, request.headers.get("content-type", ""))
        if error:
            return error
        live = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if live is None:
            return _not_found(resource, name)
        refused = _place(resource, obj, namespace, name)
        if refused:
            return refused
        given = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if given and given != live["metadata"].get("resourceVersion"):
            return status(409, "Conflict", f'Operation cannot be fulfilled on {resource.qualified} "{name}": the '
                          "object has been modified; please apply your changes to the latest version and try again",
                          {"name": name, "group": resource.group, "kind": resource.plural})
        return self._replace(resource, version, namespace, name, obj, live, _manager(request),
                             merge.fields_v1(obj, owned_maps=True), dry)

    def _replace(self, resource: Resource, version: str, namespace: str, name: str, wanted: Obj, live: Obj,
                 manager: str, fields: Obj, dry: bool, operation: str = "Update") -> SimResponse:
        """Store ``wanted`` over ``live``: system metadata and (for a status subresource) status kept,
        generation bumped when anything but metadata and status changed."""
        wanted = merge.without_nulls(merge.without_system_fields(wanted))
        old_meta = live["metadata"]
        wanted.setdefault("metadata", {})
        wanted["metadata"]["name"] = name
        if resource.namespaced:
            wanted["metadata"]["namespace"] = namespace
        for key in ("uid", "creationTimestamp", "resourceVersion", "managedFields", "generation"):
            if key in old_meta:
                wanted["metadata"][key] = copy.deepcopy(old_meta[key])
        if resource.status:
            wanted.pop("status", None)
            if "status" in live:
                wanted["status"] = copy.deepcopy(live["status"])
        causes = validation.problems(resource, wanted)
        if causes:
            return SimResponse.json(validation.invalid_status(resource, name, causes), 422)
        wanted, refused = admission.admit(self.world, "UPDATE", resource, version, wanted)
        if refused:
            return SimResponse.json(refused.body, refused.code)
        wanted = self._defaulted(resource, wanted, live)
        stored_form = _stored_form(resource, version, wanted)
        if resource.generation and _spec(stored_form) != _spec(live):
            stored_form["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        if dry:
            return SimResponse.json(_typed(resource, version, stored_form))
        saved = self.store.save(resource.key, stored_form, manager=manager, operation=operation,
                                api_version=resource.api_version(version), fields=fields)
        if saved is not live:
            self.reconcile()
        return SimResponse.json(_typed(resource, version, saved))

    # --- delete ---------------------------------------------------------------------------------

    def _delete(self, resource: Resource, version: str, namespace: str, name: str, dry: bool) -> SimResponse:
        live = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if live is None:
            return _not_found(resource, name)
        _, refused = admission.admit(self.world, "DELETE", resource, version, live)
        if refused:
            return SimResponse.json(refused.body, refused.code)
        if not dry:
            self.store.delete(resource.key, namespace if resource.namespaced else "", name)
            if resource.plural == "namespaces" and not resource.group:
                self._empty_namespace(name)
            if resource.plural == "customresourcedefinitions":
                self._forget_crd(name)
            self.reconcile()
        if resource.returns_deleted:
            shown = _typed(resource, version, live)
            shown["metadata"]["deletionTimestamp"] = stamp()
            if resource.plural == "namespaces" and not resource.group:
                shown["status"] = {"phase": "Terminating"}
            return SimResponse.json(shown)
        return SimResponse.json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                 "details": {"name": name, "group": resource.group, "kind": resource.plural,
                                             "uid": live["metadata"].get("uid", "")}})

    def _empty_namespace(self, namespace: str) -> None:
        """The namespace controller's work, done at once: every namespaced object in it goes."""
        for key, items in list(self.world.objects.items()):
            for obj in items:
                if obj["metadata"].get("namespace") == namespace:
                    self.world.remove(key, namespace, obj["metadata"]["name"])

    def _forget_crd(self, crd_name: str) -> None:
        """A deleted CRD stops being served, and its custom resources go (the CRD finalizer's cleanup)."""
        served = self.registry.established(crd_name) or ()
        self.registry.forget(crd_name)
        for resource in served:
            for obj in list(self.world.objects.get(resource.key, [])):
                self.world.remove(resource.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    # --- TokenRequest ---------------------------------------------------------------------------

    def _token(self, resource: Resource, namespace: str, name: str) -> SimResponse:
        if self.store.get(resource.key, namespace, name) is None:
            return _not_found(resource, name)
        seconds = 3600
        header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"meshcheck-sim"}').rstrip(b"=").decode()
        claims = json.dumps({"sub": f"system:serviceaccount:{namespace}:{name}", "exp": int(time.time()) + seconds})
        payload = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=").decode()
        token = f"{header}.{payload}.{secrets.token_urlsafe(32)}"
        return SimResponse.json({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {"audiences": ["https://kubernetes.default.svc.cluster.local"], "expirationSeconds": seconds,
                     "boundObjectRef": None},
            "status": {"token": token, "expirationTimestamp": stamp(time.time() + seconds)},
        }, 201)

    # --- helpers --------------------------------------------------------------------------------

    def _defaulted(self, resource: Resource, obj: Obj, previous: Obj | None) -> Obj:
        if resource.custom:
            return obj
        used = {int(p.get("nodePort") or 0) for s in self.world.of_kind("services")
                for p in s["spec"].get("ports") or [] if s is not previous}
        return defaults.default(resource.plural, obj, previous, used)


BODY_TYPES = ("application/json", "application/yaml")


def _decode(body: bytes, resource: Resource, content_type: str) -> tuple[Obj, SimResponse | None]:
    """The object a create or update sends; JSON or YAML (the simulator reads no protobuf or CBOR: 415, the
    answer kube-apiserver gives to a body in a type it does not decode)."""
    media = content_type.split(";")[0].strip() or "application/json"
    if media not in BODY_TYPES:
        return {}, status(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - '
                          f'accepted media types include: {", ".join(BODY_TYPES)}')
    yaml_ok = media == "application/yaml"
    try:
        text = body.decode("utf-8")
        obj = yaml.safe_load(text) if yaml_ok else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        return {}, status(400, "BadRequest", f"the object provided is unrecognized (must be of type "
                          f"{resource.kind}): {reason}")
    if not isinstance(obj, dict):
        return {}, status(400, "BadRequest", f"the object provided is unrecognized (must be of type {resource.kind})")
    return obj, None


def _place(resource: Resource, obj: Obj, namespace: str, url_name: str | None) -> SimResponse | None:
    """Check the body's name and namespace against the URL's, and fill them in from it."""
    metadata = obj.setdefault("metadata", {})
    if url_name is not None:
        given = metadata.get("name") or url_name
        if given != url_name:
            return status(400, "BadRequest", f"the name of the object ({given}) does not match the name on the URL "
                          f"({url_name})")
        metadata["name"] = url_name
    if resource.namespaced:
        given_ns = metadata.get("namespace") or namespace
        if given_ns != namespace:
            return status(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                          "sent on the request")
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    return None


def _manager(request: SimRequest) -> str:
    """The field manager of a non-apply write: ``fieldManager``, else the user agent's product
    (managerOrUserAgent in handlers/rest.go: "OpenAPI-Generator/37.0.2/python" → "OpenAPI-Generator")."""
    return request.arg("fieldManager") or request.headers.get("user-agent", "unknown").split("/", 1)[0][:128]


def _already_exists(resource: Resource, name: str) -> SimResponse:
    return status(409, "AlreadyExists", f'{resource.qualified} "{name}" already exists',
                  {"name": name, "group": resource.group, "kind": resource.plural})


def _not_found(resource: Resource, name: str) -> SimResponse:
    return status(404, "NotFound", f'{resource.qualified} "{name}" not found',
                  {"name": name, "group": resource.group, "kind": resource.plural})


def _typed(resource: Resource, version: str, obj: Obj) -> Obj:
    return {"kind": resource.kind, **copy.deepcopy(obj), "apiVersion": resource.api_version(version)}


def _stored_form(resource: Resource, version: str, obj: Obj) -> Obj:
    """Built-in objects are kept without kind and apiVersion (as the builder keeps them); custom resources
    with theirs."""
    stored = copy.deepcopy(obj)
    if resource.custom:
        stored["apiVersion"], stored["kind"] = resource.api_version(version), resource.kind
    else:
        stored.pop("apiVersion", None)
        stored.pop("kind", None)
    return stored


def _spec(obj: Obj) -> Obj:
    """What ``metadata.generation`` counts: everything but metadata, status and the type's identity."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
