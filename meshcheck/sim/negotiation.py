"""Which representation a client asked for, read from its Accept header as kube-apiserver reads it.

Clients name what they want with media-type parameters: ``as=Table;g=meta.k8s.io;v=v1`` (kubectl get),
``as=PartialObjectMetadataList`` (names and labels only), ``as=APIGroupDiscoveryList;g=apidiscovery.k8s.io``
(aggregated discovery), or nothing (the object itself). The server takes the clauses in the client's
order (highest q first), skips those it cannot serve, and answers 406 Not Acceptable when none is
left. The simulator serves JSON only, so YAML and protobuf clauses are skipped like unknown ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

JSON = ("application/json", "application/*", "*/*")
META_GROUP, META_VERSIONS = "meta.k8s.io", ("v1", "v1beta1")
DISCOVERY_GROUP = "apidiscovery.k8s.io"


@dataclass(frozen=True)
class Clause:
    """One media range of an Accept header: its type and its parameters (names lower-cased)."""

    mime: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def quality(self) -> float:
        try:
            return float(self.params.get("q", "1"))
        except ValueError:
            return 0.0


@dataclass(frozen=True)
class Representation:
    """What to answer with: the object itself, a Table, or PartialObjectMetadata(List), in ``version``."""

    kind: str  # "object", "Table", "PartialObjectMetadata" or "PartialObjectMetadataList"
    version: str = ""

    @property
    def api_version(self) -> str:
        return f"{META_GROUP}/{self.version}"


OBJECT = Representation("object")


def parse_accept(header: str) -> list[Clause]:
    """The clauses of an Accept header, by quality, in the client's order among equals (q=0 dropped)."""
    clauses = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        clauses.append(Clause(pieces[0].lower(), params))
    ordered = sorted(clauses, key=lambda c: -c.quality)
    return [c for c in ordered if c.quality > 0]


def for_objects(accept: str) -> Representation | None:
    """The representation of a resource GET (a list or one object); None when nothing acceptable is served."""
    if not accept.strip():
        return OBJECT
    for clause in parse_accept(accept):
        if clause.mime not in JSON:
            continue
        kind = clause.params.get("as")
        if not kind:
            return OBJECT
        if clause.params.get("g") != META_GROUP or clause.params.get("v") not in META_VERSIONS:
            continue
        if kind in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return Representation(kind, clause.params["v"])
    return None


def for_discovery(accept: str, aggregated: tuple[str, ...]) -> str | None:
    """For /api and /apis: the aggregated discovery version to answer in ("v2", "v2beta1"), "" for the
    legacy documents, None when nothing acceptable is served. ``aggregated`` lists the versions this
    server serves (none before Kubernetes 1.27)."""
    if not accept.strip():
        return ""
    for clause in parse_accept(accept):
        if clause.mime not in JSON:
            continue
        kind = clause.params.get("as")
        if not kind:
            return ""
        version = clause.params.get("v", "")
        if kind == "APIGroupDiscoveryList" and clause.params.get("g") == DISCOVERY_GROUP and version in aggregated:
            return version
    return None


def not_acceptable_message() -> str:
    """The message of a 406 Status (apimachinery's errNotAcceptable), naming what this server serves."""
    return "only the following media types are accepted: application/json"
