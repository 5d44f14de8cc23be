"""People and their sign-ins: `lab users`, `login`, `phone`, and the onboarding commands
`import`, `activate`, `ad` and `mail`."""
from __future__ import annotations

import argparse
import json
from typing import Any

import httpx
import yaml

from .. import topology as topo
from ..errors import LabError
from ..state import load_topology
from .common import EXIT_FAILED, EXIT_OK, lab_client, say, seed_of


def _user_row(person: dict[str, Any], domain: str) -> dict[str, Any]:
    okta = person.get("okta") or {}
    return {"username": person["sam"], "upn": f"{person['sam']}@{domain}", "password": person["password"],
            "ad_state": person.get("state", "enabled"), "okta_status": okta.get("status"),
            "assigned": bool(okta.get("assigned")), "okta_verify": bool(okta.get("okta_verify")),
            "workspace": bool(person.get("workspace"))}


def cmd_users(args: argparse.Namespace) -> int:
    topology = load_topology(args.state_dir)
    seed = seed_of(topology) if topology else yaml.safe_load(topo.SEED_DEFAULT.read_text())
    domain = seed["domain"]["dns_name"]
    rows = [_user_row(p, domain) for p in seed.get("users", [])]
    admin = (seed.get("okta") or {}).get("admin")
    if admin:       # the Okta org's own administrator (the admin console's sign-in), not in AD
        rows.append({"username": admin["login"].split("@")[0], "upn": admin["login"], "password": admin["password"],
                     "ad_state": "- (Okta admin)", "okta_status": "ACTIVE", "assigned": False,
                     "okta_verify": False, "workspace": False})
    # The lab's operator: the IAM user of the AWS console (its password is a lab credential).
    password = ((topology or {}).get("credentials") or {}).get("console_password") or "(lab not up)"
    rows.append({"username": topo.CONSOLE_USER, "upn": f"{topo.CONSOLE_USER} (account {topo.CONSOLE_ACCOUNT_ID})",
                 "password": password, "ad_state": "- (AWS operator)", "okta_status": None, "assigned": False,
                 "okta_verify": False, "workspace": False, "operator": True})
    if args.json:
        say(json.dumps(rows, indent=2))
        return EXIT_OK
    say(f"{'username':<14}{'password':<20}{'AD state':<22}{'Okta':<10}{'assigned':<10}{'Okta Verify':<13}WorkSpace")
    for r in rows:
        say(f"{r['username']:<14}{r['password']:<20}{r['ad_state']:<22}{r['okta_status'] or '-'!s:<10}"
            f"{'yes' if r['assigned'] else 'no':<10}{'yes' if r['okta_verify'] else 'no':<13}"
            f"{'yes' if r['workspace'] else 'no'}")
    return EXIT_OK


def cmd_login(args: argparse.Namespace) -> int:
    client = lab_client(args)
    mfa = args.mfa
    if mfa is None:
        mfa = client.phone_code(args.user)
        if not args.json:
            say(f"(MFA code from {args.user}'s Okta Verify)")
    try:
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
    result = lab_client(args).activate(args.user, send_email=not args.no_email)
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
    result = lab_client(args).ad_account(args.user, args.change)
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
    # The DC's certificate is the lab's own; the lab trusts it as the CLI's other TLS clients do.
    tls = ldap3.Tls(validate=ssl.CERT_NONE)
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
