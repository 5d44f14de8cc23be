"""The environment that points the usual clients at the lab (`lab env`): the AWS CLI and boto3
(per-service endpoint variables, the lab's keys and region), ldapsearch (the lab CA), kinit (a
krb5.conf for the lab's realm and KDC) and the okta SDK (the org's HTTPS URL, the API token, and
SSL_CERT_FILE: a bundle of the machine's CAs and the lab's, what OpenSSL and so aiohttp's default
context read, since the SDK has no setting for a CA file).

`eval "$(lab env)"` then makes `aws ds describe-directories`, `ldapsearch -ZZ`, `kinit alice` and
`okta.client.Client()` work with no flags, the SDK checking the org's certificate as against a
real org.
"""
from __future__ import annotations

import functools
import os
import ssl
from pathlib import Path
from typing import Any

from . import ca
from .state import api_url, domain_of

KRB5_CONF = "krb5.conf"

# The AWS SDKs' per-service endpoint variables (AWS_ENDPOINT_URL_<service id>), and the lab service
# that answers each API. EC2 only when the topology runs it.
AWS_ENDPOINTS = {"AWS_ENDPOINT_URL_DIRECTORY_SERVICE": "ad-connector", "AWS_ENDPOINT_URL_WORKSPACES": "workspaces",
                 "AWS_ENDPOINT_URL_EC2": "ec2"}


def realm_of(topology: dict[str, Any]) -> str:
    """AD's Kerberos realm: the domain's DNS name in capitals."""
    return domain_of(topology).upper()


def krb5_conf_text(topology: dict[str, Any]) -> str:
    dc = topology["services"]["dc"]
    realm, domain = realm_of(topology), domain_of(topology)
    kdc = f"{dc['host']}:{dc['ports']['kerberos']}"
    # dns_lookup off: the KDC is the lab's (a port DNS SRV records of a real network would not
    # give); rdns off: the lab's addresses have no PTR records.
    return (f"# Written by `lab env` for the lab in {topology['state_dir']}.\n"
            f"[libdefaults]\n    default_realm = {realm}\n    dns_lookup_kdc = false\n"
            f"    dns_lookup_realm = false\n    rdns = false\n\n"
            f"[realms]\n    {realm} = {{\n        kdc = {kdc}\n    }}\n\n"
            f"[domain_realm]\n    .{domain} = {realm}\n    {domain} = {realm}\n")


def write_krb5_conf(state_dir: Path, topology: dict[str, Any]) -> Path:
    """<state>/krb5.conf (0644: it holds no secret), rewritten so it follows the lab's ports."""
    path = Path(state_dir) / KRB5_CONF
    tmp = path.with_name(KRB5_CONF + ".tmp")
    tmp.write_text(krb5_conf_text(topology))
    os.chmod(tmp, 0o644)
    tmp.replace(path)
    return path


def org_https_url(topology: dict[str, Any]) -> str | None:
    """The org's HTTPS URL (`https://<host>:<https port>`), or None when it serves no HTTPS (a
    topology written without certificates)."""
    okta = topology["services"].get("okta") or {}
    if "https" not in okta.get("ports", {}) or not okta.get("tls"):
        return None
    return f"https://{okta['host']}:{okta['ports']['https']}"


def org_url(topology: dict[str, Any]) -> str:
    """The org's URL as the lab's control plane calls it (LabClient, provisioning, the agent-token
    check): its HTTPS URL when it serves HTTPS and the lab CA exists, as the org advertises itself
    then; else its plain `api` URL (a topology without certificates: the docker demo lab)."""
    https = org_https_url(topology)
    return https if https and _ca_file(topology) else api_url(topology, "okta")


def lab_verify(topology: dict[str, Any]) -> ssl.SSLContext | bool:
    """httpx's `verify` for the control plane's clients: the lab CA alone (what the org's
    certificate chains to), or httpx's default when the lab has no CA. One context per CA file."""
    ca_file = _ca_file(topology)
    return _trust(ca_file) if ca_file else True


def plain_http_verify() -> ssl.SSLContext:
    """httpx's `verify` for a client that only speaks plain HTTP (/healthz, the admin and phone
    APIs): a context that trusts nothing, made without reading certifi's bundle (httpx's default
    reads it for every client, ~40 ms of CPU each while a lab starts)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _ca_file(topology: dict[str, Any]) -> str | None:
    path = (topology.get("ca") or {}).get("cert")
    return path if path and Path(path).is_file() else None


@functools.lru_cache(maxsize=8)
def _trust(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def okta_sdk_config(topology: dict[str, Any]) -> dict[str, Any]:
    """The okta SDK's config for `okta.client.Client(config)` in a Python process: the org over
    HTTPS, trusting the lab CA besides the machine's CAs. The SDK's own `sslContext` setting does
    not survive its deep copy of the config (okta 3.4: an SSLContext cannot be copied), and
    SSL_CERT_FILE is read once when aiohttp is imported, so the context goes in through the SDK's
    `httpClient` hook. An org without certificates gets its plain URL (the caller then needs the
    SDK's OKTA_TESTING_TESTINGDISABLEHTTPSCHECK)."""
    creds = topology.get("credentials", {})
    https, ca_cert = org_https_url(topology), (topology.get("ca") or {}).get("cert")
    if https is None or not ca_cert:
        return {"orgUrl": api_url(topology, "okta"), "token": creds.get("okta_api_token", "")}
    # the SDK is the caller's (a test extra), not the lab's
    from okta.http_client import HTTPClient

    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_cert)

    class TrustingTheLabCA(HTTPClient):
        def __init__(self, http_config: dict[str, Any]) -> None:
            super().__init__(dict(http_config, sslContext=context))

    return {"orgUrl": https, "token": creds.get("okta_api_token", ""), "httpClient": TrustingTheLabCA}


def client_env(state_dir: Path, topology: dict[str, Any]) -> dict[str, str]:
    """{variable: value} for the clients, in the order `lab env` prints them."""
    creds = topology.get("credentials", {})
    env: dict[str, str] = {}
    for var, service in AWS_ENDPOINTS.items():
        if service in topology["services"]:
            env[var] = api_url(topology, service)
    env |= {"AWS_ACCESS_KEY_ID": creds.get("aws_access_key_id", ""),
            "AWS_SECRET_ACCESS_KEY": creds.get("aws_secret_access_key", ""),
            "AWS_DEFAULT_REGION": creds.get("aws_region", "us-east-1")}
    ca_cert = (topology.get("ca") or {}).get("cert") or str(ca.ca_cert_path(state_dir))
    has_ca = Path(ca_cert).exists()
    if has_ca:
        env["LDAPTLS_CACERT"] = ca_cert
        env["SSL_CERT_FILE"] = str(ca.write_trust_bundle(ca_cert))
    if "dc" in topology["services"]:
        env["KRB5_CONFIG"] = str(write_krb5_conf(state_dir, topology))
    if "okta" in topology["services"]:
        https = org_https_url(topology) if has_ca else None
        env |= {"OKTA_CLIENT_ORGURL": https or api_url(topology, "okta"),
                "OKTA_CLIENT_TOKEN": creds.get("okta_api_token", "")}
        if https is None:       # an org without certificates: the SDK takes http:// only when told
            env["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"
    return env
