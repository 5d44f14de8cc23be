"""services/common/aws_models.py: a model narrowed to the served operations checks and answers
those exactly as the whole model botocore's session loads, and still knows the others' names."""
from __future__ import annotations

import botocore.session
import pytest

from services.common import aws_models
from services.common.aws_api import AwsModel
from services.common.aws_query import QueryModel

EC2_SERVED = ("CreateSecurityGroup", "DescribeSecurityGroups", "ModifyNetworkInterfaceAttribute")


def _undocumented(value):
    if isinstance(value, dict):
        return {k: _undocumented(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_undocumented(v) for v in value]
    return value


@pytest.fixture(scope="module")
def session():
    return botocore.session.get_session()


def test_narrowed_shapes_are_the_whole_models_own(session):
    whole = session.get_service_data("ec2")
    narrowed, names = aws_models.load("ec2", EC2_SERVED)
    assert names == frozenset(whole["operations"])
    assert sorted(narrowed.operation_names) == sorted(EC2_SERVED)
    kept = narrowed._service_description["shapes"]
    assert 0 < len(kept) < len(whole["shapes"]) / 2
    for name, shape in kept.items():
        assert shape == _undocumented(whole["shapes"][name]), name
    # every shape an operation reaches is there (resolving a member raises otherwise)
    for op_name in EC2_SERVED:
        op = narrowed.operation_model(op_name)
        stack = [op.input_shape, op.output_shape]
        seen = set()
        while stack:
            shape = stack.pop()
            if shape is None or shape.name in seen:
                continue
            seen.add(shape.name)
            stack += list(getattr(shape, "members", {}).values())
            stack += [getattr(shape, attr) for attr in ("member", "key", "value") if hasattr(shape, attr)]
    assert {s.name for s in narrowed.error_shapes} == \
        {s.name for s in session.get_service_model("ec2").error_shapes}


def test_an_operation_the_api_does_not_have_is_refused_at_start():
    with pytest.raises(ValueError, match=r"ds has no operations \['ConnectDirectory2'\]"):
        aws_models.load("ds", ["ConnectDirectory", "ConnectDirectory2"])


def test_served_model_tells_unserved_from_unknown():
    model = AwsModel("workspaces")
    model.serve(["DescribeWorkspaces"])
    assert model.known("DescribeWorkspaces") and model.known("RebootWorkspaces")
    assert not model.known("RebootWorkspace")
    assert model.operation("DescribeWorkspaces") is not None
    assert model.operation("RebootWorkspaces") is None       # AWS's, not served: "the lab does not implement"
    assert model.target_prefix == "WorkspacesService"
    query = QueryModel("ec2")
    query.serve(EC2_SERVED)
    assert query.known("DescribeVpcs") and query.operation("DescribeVpcs") is None
    assert query.namespace == "http://ec2.amazonaws.com/doc/2016-11-15/"


def test_regions_are_the_sessions(session):
    for prefix in ("ec2", "ds", "workspaces"):
        assert aws_models.regions(prefix) == frozenset(session.get_available_regions(prefix))
