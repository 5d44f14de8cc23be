"""services/common/aws_query.py in-process: what botocore's EC2 serializer writes is read back
into the same parameters, what the module writes botocore's EC2 parser reads back into the same
data, for every operation the lab serves and random shapes (aws_fuzzing.Generator); and EC2's
refusals of a form it cannot read."""
from __future__ import annotations

import datetime as dt
import random

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from services.common.aws_errors import AwsError
from services.common.aws_query import _NOT_XML, QueryModel, form_of
from tests.support.aws_fuzzing import Generator

OPERATIONS = ["DescribeSecurityGroups", "CreateSecurityGroup", "DeleteSecurityGroup", "AuthorizeSecurityGroupIngress",
              "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
              "DescribeSecurityGroupRules", "DescribeInstances", "DescribeNetworkInterfaces",
              "ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute"]
MODEL = QueryModel("ec2")


def _normal(value):
    """Generator values as the wire carries them: timestamps as datetimes, empty lists/structures absent."""
    if isinstance(value, dict):
        out = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [v for v in (_normal(v) for v in value) if v not in (None, [], {})]
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    return value


@pytest.mark.parametrize("operation", OPERATIONS)
def test_what_botocore_serialises_is_read_back(operation):
    generator = Generator("ec2", random.Random(operation))
    serializer = create_serializer("ec2", include_validation=False)
    model = MODEL.operation(operation)
    for _ in range(40):
        params = generator.valid(model)
        params = {k: v for k, v in params.items() if not isinstance(v, (dt.datetime, bytes))}
        try:
            body = serializer.serialize_to_request(params, model)["body"]
        except TypeError:       # a blob the generator left empty: botocore cannot send it either
            continue
        fields = {str(k): str(v) for k, v in body.items()}
        try:
            read = MODEL.parse(model, fields)
        except AwsError as error:       # a value the generator made that the wire cannot carry
            assert error.code in ("MissingParameter", "InvalidParameterValue"), error
            continue
        assert _normal(read) == _normal({k: v for k, v in params.items() if k in read or _normal(v)}), fields


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if MODEL.operation(op).output_shape is not None])
def test_what_the_module_writes_botocore_parses_back(operation):
    generator = Generator("ec2", random.Random("out" + operation))
    model = MODEL.operation(operation)
    parser = create_parser("ec2")
    for _ in range(20):
        data = generator.value(model.output_shape, "", depth=0)
        xml = MODEL.xml(model, data, "req-1")
        parsed = parser.parse({"body": xml, "headers": {}, "status_code": 200}, model.output_shape)
        parsed.pop("ResponseMetadata", None)
        assert _normal(parsed) == _normal(_strings(data, model.output_shape)), xml[:500]


def _strings(value, shape):
    """Strings the XML writer had to replace (characters XML 1.0 cannot carry) as the parser sees them."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _strings(v, shape.members[k]) for k, v in value.items() if k in shape.members}
    if shape.type_name == "list" and isinstance(value, list):
        return [_strings(v, shape.member) for v in value]
    if shape.type_name == "string" and isinstance(value, str):
        return _NOT_XML.sub("\ufffd", value)
    if shape.type_name in ("float", "double") and isinstance(value, (int, float)):
        return float(value)
    if shape.type_name == "timestamp":       # written to the millisecond, read as a datetime
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if isinstance(value, str) \
            else float(value)
        return round(when, 3)
    return value


def refused(operation, fields):
    with pytest.raises(AwsError) as info:
        MODEL.parse(MODEL.operation(operation), fields)
    return info.value.code, info.value.message


def test_the_query_names_ec2_uses():
    read = MODEL.parse(MODEL.operation("AuthorizeSecurityGroupIngress"), {
        "GroupId": "sg-1", "IpPermissions.1.IpProtocol": "tcp", "IpPermissions.1.FromPort": "53",
        "IpPermissions.1.ToPort": "53", "IpPermissions.1.IpRanges.1.CidrIp": "10.0.0.0/8",
        "IpPermissions.1.IpRanges.2.CidrIp": "10.1.0.0/16", "IpPermissions.1.Groups.1.GroupId": "sg-2"})
    assert read == {"GroupId": "sg-1", "IpPermissions": [{
        "IpProtocol": "tcp", "FromPort": 53, "ToPort": 53, "UserIdGroupPairs": [{"GroupId": "sg-2"}],
        "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.1.0.0/16"}]}]}
    read = MODEL.parse(MODEL.operation("DescribeSecurityGroups"), {
        "GroupId.1": "sg-1", "GroupId.2": "sg-2", "Filter.1.Name": "vpc-id", "Filter.1.Value.1": "vpc-1",
        "MaxResults": "5", "DryRun": "false"})
    assert read == {"GroupIds": ["sg-1", "sg-2"], "Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}],
                    "MaxResults": 5, "DryRun": False}


def test_refusals_are_ec2s():
    assert refused("DescribeSecurityGroups", {"Colour": "red"}) == (
        "UnknownParameter", "The parameter Colour is not recognized")
    assert refused("DescribeSecurityGroups", {"MaxResults": "many"})[0] == "InvalidParameterValue"
    assert refused("DescribeSecurityGroups", {"DryRun": "maybe"})[0] == "InvalidParameterValue"
    assert refused("DeleteSecurityGroup", {"DryRun": "true", "GroupId.x": "1"})[0] == "UnknownParameter"
    assert refused("RevokeSecurityGroupEgress", {}) == (
        "MissingParameter", "The request must contain the parameter GroupId")
    assert refused("ModifyInstanceAttribute", {"InstanceId": "i-1", "Attribute": "colour"})[0] == \
        "InvalidParameterValue"


def test_error_xml_is_what_botocore_reads():
    body = MODEL.error_xml("InvalidGroup.NotFound", "The security group 'sg-1' does not exist\x01", "req-9")
    parsed = create_parser("ec2").parse({"body": body, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"] == {"Code": "InvalidGroup.NotFound",
                               "Message": "The security group 'sg-1' does not exist\ufffd"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_form_of_reads_query_and_body():
    assert form_of(b"Action=DescribeInstances&Version=2016-11-15", "X=1") == {
        "X": "1", "Action": "DescribeInstances", "Version": "2016-11-15"}
    with pytest.raises(ValueError):
        form_of("&".join(f"f{i}=1" for i in range(5000)).encode(), "")
