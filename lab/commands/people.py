"""People and their sign-ins: `lab users`, `login`, `phone`, and the onboarding commands
`import`, `activate`, `ad` and `mail`."""
from __future__ import annotations

import argparse
import json
from typing import Any

import httpx
import yaml

from .. import people_view
from .. import topology as topo
from ..ca import ca_cert_path
from ..client import LabClient, LabClientError
from ..errors import LabError, UsageError
from ..runtime import running_runtime
from ..state import api_url, load_topology
from . import waiting
from .common import EXIT_FAILED, EXIT_OK, lab_client, say, seed_of


def _user_row(person: dict[str, Any], domain: str) -> dict[str, Any]:
    okta = person.get("okta") or {}
    return {"username": person["sam"], "upn": f"{person['sam']}@{domain}", "password": person["password"],
            "ad_state": person.get("state", "enabled"), "okta_status": okta.get("status"),
            "assigned": bool(okta.get("assigned")), "okta_verify": bool(okta.get("okta_verify")),
            "workspace": bool(person.get("workspace"))}


def _seed_rows(seed: dict[str, Any]) -> list[dict[str, Any]]:
    """What a seeded `lab up` makes: the seed's people, and the Okta administrator."""
    domain = seed["domain"]["dns_name"]
    rows = [_user_row(p, domain) for p in seed.get("users", [])]
    admin = (seed.get("okta") or {}).get("admin")
    if admin:       # the Okta org's own administrator (the admin console's sign-in), not in AD
        rows.append({"username": admin["login"].split("@")[0], "upn": admin["login"], "password": admin["password"],
                     "ad_state": "- (Okta admin)", "okta_status": "ACTIVE", "assigned": False,
                     "okta_verify": False, "workspace": False})
    return rows


def cmd_users(args: argparse.Namespace) -> int:
    """A running lab is asked who is there (the DC, the org, WorkSpaces: lab/people_view.py), so a
    blank lab shows an empty org; without a running lab, the seed's people (what `lab up` makes)."""
    topology = load_topology(args.state_dir)
    if topology is not None and running_runtime(args.state_dir) is not None:
        client = LabClient(topology)
        try:
            rows, where = people_view.people(client), "in the running lab"
        finally:
            client.close()
    else:
        seed = seed_of(topology) if topology else yaml.safe_load(topo.SEED_DEFAULT.read_text())
        rows, where = _seed_rows(seed), "in the seed (the lab is not running: what `lab up` makes)"
    # The lab's operator: the AWS console's IAM user (its password is a lab credential), in a blank lab too.
    password = ((topology or {}).get("credentials") or {}).get("console_password") or "(lab not up)"
    rows.append({"username": topo.CONSOLE_USER, "upn": f"{topo.CONSOLE_USER} (account {topo.CONSOLE_ACCOUNT_ID})",
                 "password": password, "ad_state": "- (AWS operator)", "okta_status": None, "assigned": False,
                 "okta_verify": False, "workspace": False, "operator": True})
    if args.json:
        say(json.dumps(rows, indent=2))
        return EXIT_OK
    say(f"# the people {where}")
    say(f"{'username':<18}{'password':<20}{'AD state':<22}{'Okta':<10}{'assigned':<10}{'Okta Verify':<13}WorkSpace")
    for r in rows:
        say(f"{r['username']:<18}{r['password'] or '-':<20}{r['ad_state']:<22}{r['okta_status'] or '-'!s:<10}"
            f"{'yes' if r['assigned'] else 'no':<10}{'yes' if r['okta_verify'] else 'no':<13}"
            f"{'yes' if r['workspace'] else 'no'}")
    return EXIT_OK


def _phone_user(client: LabClient, user: str) -> None:
    """UsageError naming the phone's accounts when Okta Verify has none for `user`."""
    resp = httpx.get(f"{api_url(client.topology, 'phone')}/accounts", timeout=10)
    resp.raise_for_status()
    logins = [a["login"] for a in resp.json()]
    wanted = user.split("\\")[-1].lower()
    if not any(wanted in (login.lower(), login.split("@")[0].lower()) for login in logins):
        # Sorted: enrolment runs several at a time, so the phone's own order varies.
        known = ", ".join(sorted(login.split("@")[0] for login in logins)) or "none (no one has enrolled yet)"
        raise UsageError(f"Okta Verify on the phone has no account for {user!r}; accounts: {known}")


def cmd_login(args: argparse.Namespace) -> int:
    client = lab_client(args)
    mfa = args.mfa
    if args.password is None and client.seed_user(args.user) is None:
        known = ", ".join(p["sam"] for p in client.seed().get("users", []))
        raise UsageError(f"{args.user!r} is not one of the seed's people, whose demo passwords the lab knows "
                         f"({known}); give --password")
    if mfa is None:
        _phone_user(client, args.user)
        mfa = client.phone_code(args.user)
        if not args.json:
            say(f"(MFA code from {args.user}'s Okta Verify)")
    try:
        if mfa == "push" and not args.json:
            with waiting.for_phone(args.user):
                result = client.login(args.user, args.password, mfa, args.registration_code)
        else:
            result = client.login(args.user, args.password, mfa, args.registration_code)
    except httpx.HTTPError as exc:
        raise LabError(f"cannot reach WorkSpaces: {exc}") from None
    if args.json:
        say(json.dumps(result, indent=2))
    elif result["success"]:
        say(f"signed in as {result['userName']}: connected to WorkSpace {result['workspaceId']} "
            f"({result.get('computerName')}) in {result['elapsed_seconds']:.2f} s")
    else:
        say(result.get("message", "sign-in failed"))
    return EXIT_OK if result["success"] else EXIT_FAILED


def cmd_phone(args: argparse.Namespace) -> int:
    client = lab_client(args)
    if args.phone_cmd in ("code", "respond"):
        _phone_user(client, args.user)
    if args.phone_cmd == "code":
        code = client.phone_code(args.user)
        say(json.dumps({"user": args.user, "code": code}) if args.json else code)
    elif args.phone_cmd == "respond":
        client.phone_respond(args.user, args.action, args.after)
        say(f"{args.user}'s phone will {args.action} pushes" + (f" after {args.after:g} s" if args.after else ""))
    else:
        pushes = client.phone_pushes()
        say(json.dumps(pushes, indent=2) if args.json else
            "\n".join(f"{p['received']} {p['login']} {p['action']} answered={p['answered']}" for p in pushes)
            or "no pushes yet")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    job = lab_client(args).ad_import(full=not args.incremental, wait=args.timeout)
    if args.json:
        say(json.dumps(job, indent=2))
    elif job["status"] == "COMPLETED":
        c = job.get("counts") or {}
        say(f"imported from Active Directory: {c.get('users.created', 0)} users created (STAGED), "
            f"{c.get('users.updated', 0)} updated, {c.get('users.unchanged', 0)} unchanged; "
            f"{c.get('groups.created', 0)} groups created; {c.get('memberships.added', 0)} memberships added")
        changed = [f"{c[k]} {k.split('.')[1]}" for k in ("users.deactivated", "users.suspended", "users.reactivated")
                   if c.get(k)]
        if changed:       # the lifecycle rules of the integration acted on people disabled or enabled in AD
            say("lifecycle: " + ", ".join(changed) + " (users disabled, enabled or gone in AD)")
    else:
        say(f"the import failed: {job.get('error')}")
    return EXIT_OK if job["status"] == "COMPLETED" else EXIT_FAILED


def cmd_activate(args: argparse.Namespace) -> int:
    client = lab_client(args)
    try:
        result = client.activate(args.user, send_email=not args.no_email)
    except LabClientError as exc:
        if "Not found" not in str(exc):
            raise
        users = [u["profile"]["login"] for u in client.okta("GET", "/api/v1/users", params={"limit": 200}).json()]
        raise UsageError(f"the org has no user {args.user!r} (import them first: `lab import`); users: "
                         f"{', '.join(users) or 'none'}") from None
    if args.json:
        say(json.dumps(result, indent=2))
    elif args.no_email:
        say(f"activated {result['login']}; activation link: {result.get('activationUrl')}")
    else:
        say(f"activated {result['login']}; the activation email is in the mailbox (`lab mail {args.user}`)")
    return EXIT_OK


def cmd_ad(args: argparse.Namespace) -> int:
    if args.change == "set-password":
        return _ad_set_password(args)
    client = lab_client(args)
    try:
        result = client.ad_account(args.user, args.change)
    except LabClientError as exc:
        if "has no account" not in str(exc):
            raise
        known = ", ".join(str(e.sAMAccountName.value) for e in people_view.ad_accounts(client))
        raise UsageError(f"{exc}; accounts: {known}") from None
    if args.json:
        say(json.dumps(result, indent=2))
    else:
        done = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked",
                "must-change-password": "must change the password at next logon"}[args.change]
        say(f"{result['user']}: {done} in AD ({result['dn']}, userAccountControl {result['userAccountControl']}); "
            "Okta sees it at the next import (`lab import`)")
    return EXIT_OK


def _ad_set_password(args: argparse.Namespace) -> int:
    """`lab ad USER set-password`: what "Reset Password" in Active Directory Users and Computers
    does, the way LDAP tools do it: bind as the domain administrator over StartTLS (AD refuses a
    unicodePwd change on a connection that is not encrypted) and replace unicodePwd with the quoted
    UTF-16LE password (ldap3's `extend.microsoft.modify_password`)."""
    import getpass
    import ssl
    import sys

    import ldap3
    from ldap3.utils.conv import escape_filter_chars

    from ..client import LabClientError
    password = args.password
    if password is None:
        password = getpass.getpass("New password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        raise LabClientError("no new password (give --password or one line on stdin)")
    client = lab_client(args)
    seed, dc = client.seed(), client.topology["services"]["dc"]
    domain = seed.get("domain", {})
    admin = next((p for p in seed.get("users", []) if p["sam"].lower() == "administrator"), None)
    if admin is None:
        raise LabClientError("the seed has no Administrator to change AD accounts with")
    sam = args.user.split("@")[0].split("\\")[-1]
    base = domain.get("base_dn") or ",".join(f"DC={p}" for p in domain.get("dns_name", "corp.example.com").split("."))
    # The DC's certificate comes from the lab's CA (lab/ca.py): checked, names included.
    ca_file = ca_cert_path(args.state_dir)
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_file)) if ca_file.exists() else \
        ldap3.Tls(validate=ssl.CERT_NONE)
    conn = ldap3.Connection(ldap3.Server(dc["host"], port=dc["ports"]["ldap"], get_info=ldap3.NONE, tls=tls,
                                         connect_timeout=5),
                            user=f"{domain.get('netbios_name', 'CORP')}\\Administrator", password=admin["password"],
                            receive_timeout=10)
    try:
        conn.open()
        if not conn.start_tls():
            raise LabClientError(f"the DC refused StartTLS: {conn.result.get('message')}")
        if not conn.bind():
            raise LabClientError(f"the DC refused the administrator's bind: {conn.result.get('message')}")
        conn.search(base, f"(sAMAccountName={escape_filter_chars(sam)})", attributes=["sAMAccountName"])
        if not conn.entries:
            raise LabClientError(f"AD has no account {sam}")
        dn = conn.entries[0].entry_dn
        if not conn.extend.microsoft.modify_password(dn, password):
            say(f"{sam}: the DC refused the new password: {conn.result.get('description')} "
                f"({conn.result.get('message')})")
            return EXIT_FAILED
    except ldap3.core.exceptions.LDAPException as exc:
        raise LabClientError(f"cannot reach the DC's LDAP: {exc.__class__.__name__}: {exc}") from None
    finally:
        if not conn.closed:
            conn.unbind()
    result = {"user": sam, "dn": dn, "change": "set-password"}
    say(json.dumps(result, indent=2) if args.json else
        f"{sam}: password set in AD over StartTLS ({dn}); LDAP binds and Kerberos take it at once")
    return EXIT_OK


def cmd_mail(args: argparse.Namespace) -> int:
    messages = lab_client(args).mail(args.user)
    if args.json:
        say(json.dumps(messages, indent=2))
        return EXIT_OK
    if not messages:
        say(f"no mail for {args.user}" if args.user else "the mailbox is empty")
        return EXIT_OK
    for m in messages:
        say(f"{m['received']}  to {', '.join(m['envelope']['to'])}: {m['subject']}")
    if args.user:          # open the newest, as the user would
        say("")
        say(messages[-1]["text"].rstrip())
    return EXIT_OK
