"""Grafana: healthy, with a working Prometheus data source and Istio's dashboards.

Four requests on a healthy cluster (/api/health, /api/datasources, the data source's health,
/api/search); Grafana 9 needs one more, its Prometheus plugin having no health check. The data
source list is read once for the module and shared by the two data source tests.
"""

import functools

import pytest

from meshcheck.addons import grafana as gf
from meshcheck.checks import grafana as checks


@pytest.fixture(scope="module")
def grafana_datasources(grafana):
    """Read the data sources on first use, inside a test, so an unreachable Grafana fails that test."""
    return functools.cache(lambda: gf.datasources(grafana))


def test_grafana_is_healthy(grafana, wait, require):
    require(wait(lambda: checks.grafana_healthy(gf.health(grafana))))


def test_grafana_has_prometheus_datasource(grafana_datasources, require):
    require(checks.prometheus_datasource_present(grafana_datasources()))


def test_grafana_prometheus_datasource_works(grafana, grafana_datasources, require):
    source = gf.prometheus_datasource(grafana_datasources())
    if source is None:
        require(checks.prometheus_datasource_present(grafana_datasources()))
    require(checks.prometheus_datasource_works(source, gf.datasource_health(grafana, source)))


def test_grafana_has_mesh_dashboards(grafana, profile, require):
    require(checks.istio_dashboards_present(gf.dashboards(grafana), profile.grafana_dashboards))
