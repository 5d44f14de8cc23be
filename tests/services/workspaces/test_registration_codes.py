"""Registration codes follow the Region as AWS's do (`WSpdx+ABC12D` in us-west-2): `WS`, the
Region's airport code, `+`, six upper-case letters or digits, never one already taken."""
import re

from services.workspaces import models


def test_the_prefix_is_the_regions_airport_code():
    assert models.region_prefix("us-west-2") == "WSpdx"      # AWS's own example
    assert models.region_prefix("us-east-1") == "WSiad"
    assert models.region_prefix("eu-west-1") == "WSdub"
    assert models.region_prefix("xx-nowhere-1") == "WSlab"   # not a WorkSpaces Region


def test_codes_are_unique_and_shaped_like_awss():
    taken: set[str] = set()
    for _ in range(50):
        code = models.registration_code(models.region_prefix("us-west-2"), taken)
        assert re.fullmatch(r"WSpdx\+[A-Z0-9]{6}", code) and code.lower() not in taken
        taken.add(code.lower())
