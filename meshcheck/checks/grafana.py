"""Grafana checks: healthy, a working Prometheus data source, and Istio's dashboards by title.

Pure functions from what ``meshcheck.addons.grafana`` parsed to a ``CheckResult``. Dashboards are
matched by title, never by uid: Istio's dashboards had fixed uids up to 1.21 (e.g. "G8wLrJIZk"
for the Mesh Dashboard) and generated or md5-of-file-name uids later (istio/istio
manifests/addons/dashboards/README.md), and 1.23 added a Ztunnel dashboard, so extra dashboards
are fine. Istio's add-on provisions them in folder "istio" (istio/istio samples/addons/grafana.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from meshcheck.addons.grafana import Dashboard, Datasource, DatasourceHealth, Health, prometheus_datasource
from meshcheck.results import CheckResult, fail, listing, ok


def grafana_healthy(health: Health) -> CheckResult:
    check = "grafana.grafana_healthy"
    version = f" {health.version}" if health.version else ""
    if health.status == 200 and health.database == "ok":
        return ok(check, f"Grafana{version} is healthy", version=health.version)
    seen = f"{health.detail!r}" if health.detail else f"database {health.database!r}"
    return fail(
        check,
        f"Grafana{version} is not healthy: /api/health answered {health.status} with {seen}",
        "check that the grafana pod is running and ready, and its logs (a failing database "
        "means Grafana cannot use its storage volume)",
        settled=False,
        version=health.version,
        database=health.database,
    )


def prometheus_datasource_present(sources: Sequence[Datasource]) -> CheckResult:
    """Grafana lists a data source of type prometheus (the one dashboards would use is reported)."""
    check = "grafana.prometheus_datasource_present"
    chosen = prometheus_datasource(sources)
    if chosen is not None:
        return ok(
            check,
            f"Grafana has the Prometheus data source {chosen.name!r} ({chosen.url})",
            name=chosen.name,
            uid=chosen.uid,
            url=chosen.url,
        )
    seen = listing(f"{s.name} ({s.type})" for s in sources) or "none"
    return fail(
        check,
        f"Grafana has no data source of type prometheus (data sources: {seen})",
        "Istio's add-on provisions one named Prometheus with url http://prometheus:9090 from the "
        "grafana ConfigMap's datasources.yaml: reapply samples/addons/grafana.yaml or add the data "
        "source under Connections → Data sources",
        datasources=[s.name for s in sources],
    )


def prometheus_datasource_works(source: Datasource, health: DatasourceHealth) -> CheckResult:
    """Grafana's own test of the data source succeeds; its message is the diagnosis when not."""
    check = "grafana.prometheus_datasource_works"
    if health.ok:
        return ok(check, f"Grafana's data source {source.name!r} works: {health.message}", route=health.route)
    return fail(
        check,
        f"Grafana's data source {source.name!r} ({source.url or 'no url'}) fails its test "
        f"with {health.status}: {health.message}",
        "point the data source at the Prometheus Service as Grafana's pod resolves it (Istio's "
        "add-on: http://prometheus:9090 in the same namespace) and check that Prometheus is ready",
        route=health.route,
        status=health.status,
        url=source.url,
    )


def _norm(title: str) -> str:
    return " ".join(title.split()).casefold()


def istio_dashboards_present(found: Sequence[Dashboard], titles: Iterable[str]) -> CheckResult:
    """Every expected dashboard title is among Grafana's dashboards, in whatever folder and uid."""
    check = "grafana.istio_dashboards_present"
    expected = list(titles)
    by_title = {_norm(d.title): d for d in found}
    missing = [t for t in expected if _norm(t) not in by_title]
    if not missing:
        return ok(
            check,
            f"Grafana has all {len(expected)} Istio dashboards",
            uids={t: by_title[_norm(t)].uid for t in expected},
        )
    istio = sorted(d.title for d in found if "istio" in d.title.casefold())
    return fail(
        check,
        f"Grafana lacks the dashboards {listing(missing)} (Istio dashboards seen: {listing(istio) or 'none'})",
        "Istio's add-on provisions them from the istio-grafana-dashboards and "
        "istio-services-grafana-dashboards ConfigMaps into folder istio: reapply "
        "samples/addons/grafana.yaml for your Istio release and restart the grafana pod",
        missing=missing,
        seen=istio,
    )
