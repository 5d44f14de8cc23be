"""Helpers of the EC2 tests: a boto3 client as a user makes one, and reading EC2's errors."""
from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.support import url


def ec2_client(topology: dict[str, Any], **overrides: Any):
    creds = topology["credentials"]
    kwargs = dict(endpoint_url=url(topology, "ec2"), aws_access_key_id=creds["aws_access_key_id"],
                  aws_secret_access_key=creds["aws_secret_access_key"], region_name=creds["aws_region"],
                  config=Config(retries={"max_attempts": 1}))
    kwargs.update(overrides)
    return boto3.client("ec2", **kwargs)


def error_of(call, *args, **kwargs) -> dict[str, Any]:
    """The `Error` of the ClientError `call` raises (EC2's Code and Message) plus the HTTP status."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return dict(response["Error"], status=response["ResponseMetadata"]["HTTPStatusCode"])


def group_named(ec2, name: str) -> dict[str, Any]:
    return ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]
