"""The rubric: loading and validating it, what it says blocks what, and its arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck import layers
from meshcheck.errors import ConfigError
from meshcheck.report.record import CheckRecord
from meshcheck.report.score import score
from meshcheck.rubric import load_rubric


def test_the_default_rubric_follows_the_lab_goals_and_gives_every_layer_points():
    rubric = load_rubric()
    assert rubric.name == "lab"
    assert set(rubric.points) == set(layers.BY_NAME)
    assert sum(rubric.points.values()) == 100
    assert [g.id for g in rubric.goals] == ["1", "2-3", "2-3", "4", "5", "6"]
    assert rubric.goal_of("tracing").title == "Jaeger"
    assert rubric.blocking == {}  # the suite's own gating: CI's


def test_the_grader_rubric_lets_only_nodes_and_cluster_dns_block():
    rubric = load_rubric("lab-grader")
    assert rubric.points == load_rubric("lab").points
    assert rubric.blocks("cluster", "test_nodes_ready", marked_nonblocking=False)
    assert rubric.blocks("cluster", "test_cluster_dns_available", marked_nonblocking=False)
    assert not rubric.blocks("cluster", "test_kube_system_pods_running", marked_nonblocking=False)
    assert rubric.blocks("istio", "test_istiod_available", marked_nonblocking=False)  # elsewhere: the markers
    assert not rubric.blocks("istio", "test_istio_control_and_data_plane_versions_agree", marked_nonblocking=True)


@pytest.mark.parametrize(("text", "said"), [
    ("goals: []", "goals: [] should be non-empty"),
    ("goals: [{id: 1, title: t, layers: {cluster: -1}}]", "goals/0/layers/cluster: -1 is less than the minimum"),
    ("goals: [{id: 1, title: t, layers: {clustr: 5}}]", "unknown layer clustr"),
    ("goals: [{id: 1, title: t, layers: {cluster: 5}}]\nweights: {nodes: 2}", "weights: 'nodes' does not match"),
    ("goals: [{id: 1, title: t, layers: {cluster: 5}}]\npoints: 3", "Additional properties are not allowed"),
    ("goals: [{id: 1, title: t, layers: {cluster: 5}}, {id: 2, title: u, layers: {cluster: 5}}]", "in two goals"),
    ("goals: [unclosed", "is not YAML"),
    ("- a list", "not a mapping"),
])
def test_a_bad_rubric_is_a_clear_error(tmp_path: Path, text: str, said: str):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_rubric(path)
    assert said in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_rubric_names_the_bundled_ones():
    with pytest.raises(ConfigError, match="lab, lab-grader"):
        load_rubric("nosuch")


def test_rubrics_that_extend_each_other_in_a_circle_are_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(f"extends: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="circle"):
        load_rubric(tmp_path / "a.yaml")


def test_unknown_check_names_are_found():
    rubric = load_rubric("lab-grader")
    assert rubric.unknown_checks({"test_nodes_ready", "test_storefront_checkout_completes_with_order_confirmation",
                                  "test_kiali_graph_has_call_graph_edges"}) == ["test_cluster_dns_available"]


def _record(layer: str, check: str, outcome: str, message: str = "", blocked_by: str | None = None) -> CheckRecord:
    return CheckRecord(f"suites/x.py::{check}", layer, check, outcome, message, blocked_by=blocked_by)  # type: ignore[arg-type]


def test_points_are_shared_by_weight_and_a_failure_or_a_block_scores_zero(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("goals: [{id: 1, title: t, layers: {cluster: 12, istio: 10}}]\nweights: {test_b: 2}\n")
    rubric = load_rubric(path)
    records = [
        _record("cluster", "test_a", "passed"),
        _record("cluster", "test_b", "passed"),
        _record("cluster", "test_c", "failed", "c is broken"),
        _record("cluster", "test_d", "skipped", "not required by profile"),
        _record("istio", "test_e", "blocked", "c is broken", blocked_by="cluster"),
    ]
    result = score(records, rubric)
    cluster, istio = result.layers[0], result.layers[1]
    assert (cluster.points, cluster.max) == (9, 12)  # a 3 + b 6 of a 3, b 6, c 3; d does not count
    assert result.checks["suites/x.py::test_c"].max == 3 and result.checks["suites/x.py::test_c"].points == 0
    assert result.checks["suites/x.py::test_d"].max == 0
    assert (istio.points, istio.max, istio.blocked) == (0, 10, 1)
    assert cluster.cause == "c is broken" and istio.cause == "blocked by cluster: c is broken"
    assert istio.state == "blocked" and cluster.state == "failed"
    assert [s.state for s in result.layers[2:]] == ["not run"] * (len(layers.LAYERS) - 2)
    assert (result.points, result.max) == (9, 22)


def test_thirds_add_up_to_the_layer_points():
    rubric = load_rubric()
    records = [_record("tracing", f"test_{i}", "passed") for i in range(3)]
    assert score(records, rubric).points == 10
