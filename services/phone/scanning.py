"""What happens when Okta Verify's camera sees a QR code: the text is read from the image (camera.py),
then an `otpauth://` code becomes a TOTP account and an `oktaverify://` code enrols the phone for
push with the org that the code names. Scanning "by URL" stands in for pointing the camera at a
screen: the phone fetches the image the enrolment page shows and reads it the same way; it never
asks the org for anything else.

Every refusal is a ValueError whose message the person scanning reads."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx

from services.common.context import ServiceContext
from services.common.tls import certificate_reason, lab_trust

from .authenticator import DEFAULT_DEVICE, Account, Wallet
from .camera import read_qr

MAX_IMAGE_BYTES = 2 * 1024 * 1024


class Scanner:
    def __init__(self, ctx: ServiceContext, wallet: Wallet) -> None:
        self.ctx = ctx
        self.wallet = wallet
        self.push_endpoint = f"http://{ctx.me['host']}:{ctx.port('api')}/push"

    async def scan_uri(self, uri: str, device: str = DEFAULT_DEVICE) -> Account:
        """Enrol from the QR code's text; records `phone.scan` either way. `device`: which of the
        person's phones scans it (a second phone enrols as its own push factor)."""
        scheme = urlparse(uri).scheme
        try:
            device = check_device(device)
            if scheme == "otpauth":
                acc = self.wallet.add_totp(uri)
            elif scheme == "oktaverify":
                acc = await self._enrol_push(uri, device)
            else:
                raise ValueError("this QR code is not an Okta Verify or authenticator code")
        except ValueError as exc:
            self.refused(exc)
            raise
        self.ctx.record("phone.scan", outcome="enrolled", user=acc.login, kind=scheme, device=acc.device)
        return acc

    async def scan_image(self, image: bytes, device: str = DEFAULT_DEVICE) -> Account:
        try:
            uri = read_qr(image)
        except ValueError as exc:
            self.refused(exc)
            raise
        return await self.scan_uri(uri, device)

    async def scan_url(self, url: str, device: str = DEFAULT_DEVICE) -> Account:
        """Point the camera at the image at `url` (the QR code an enrolment page shows)."""
        return await self.scan_image(await self.fetch_image(url), device)

    async def fetch_image(self, url: str) -> bytes:
        parsed = urlparse(url)
        try:
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError("the camera can only look at an http(s) address")
            try:
                async with self.ctx.http_client(timeout=10, verify=lab_trust(self.ctx)) as client:
                    resp = await client.get(url)
            except httpx.HTTPError as exc:
                raise ValueError(f"the camera could not load {parsed.netloc}: {why(exc)}") from None
            if resp.status_code != 200:
                raise ValueError(f"there is no QR code to see at that address (HTTP {resp.status_code}); "
                                 "it may have expired: reload the enrolment page")
            if not resp.headers.get("content-type", "").startswith("image/"):
                raise ValueError("that address shows no image")
            if len(resp.content) > MAX_IMAGE_BYTES:
                raise ValueError("that image is too large for the camera")
        except ValueError as exc:
            self.refused(exc)
            raise
        return resp.content

    def refused(self, exc: Exception) -> None:
        self.ctx.record("phone.scan", outcome="refused", reason=str(exc))

    async def _enrol_push(self, uri: str, device: str) -> Account:
        params = {k: v[0] for k, v in parse_qs(urlparse(uri).query).items()}
        if not {"t", "s"} <= params.keys():
            raise ValueError("the Okta Verify QR code lacks its activation token or org")
        try:    # the org's address comes from the QR code: it may be anything, or not answer
            async with self.ctx.http_client(timeout=10, verify=lab_trust(self.ctx)) as client:
                resp = await client.post(
                    params["s"].rstrip("/") + "/idp/authenticators/okta-verify/enroll",
                    json={"activationToken": params["t"], "pushEndpoint": self.push_endpoint,
                          "deviceName": device})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ValueError(f"the org could not be reached: {why(exc)}") from None
        if resp.status_code != 200:
            raise ValueError(f"the org refused the enrolment: {_summary(resp)}")
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str)
                                                 for k in ("login", "factorId", "deviceCredential")):
            raise ValueError("the org's enrolment answer is not Okta Verify's")
        acc = self.wallet.account(data["login"], device)
        acc.push_factor_id = data["factorId"]
        acc.device_credential = data["deviceCredential"]
        self.wallet.save()
        return acc


def why(exc: BaseException) -> str:
    """A failed call to the org as the phone tells it: a certificate it does not trust (the lab CA
    is the only one it trusts for the org) with OpenSSL's reason, else the error's name."""
    reason = certificate_reason(exc)
    return f"its certificate is not trusted ({reason})" if reason else exc.__class__.__name__


def check_device(name: str) -> str:
    """A device name as a person types it: 1-40 printable characters."""
    name = name.strip()
    if not 1 <= len(name) <= 40 or not name.isprintable() or "|" in name:
        raise ValueError("a device name is 1 to 40 printable characters (no |)")
    return name


def _summary(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("errorSummary", resp.text))
    except ValueError:
        return f"HTTP {resp.status_code}"
