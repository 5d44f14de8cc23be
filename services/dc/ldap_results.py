"""LDAP result codes (RFC 4511 4.1.9) and Active Directory's diagnostic messages, in one place.

AD puts a Win32 error, a DSID (where in AD's code the error was raised) and sometimes a `data`
sub-code into the diagnosticMessage; clients parse the leading code and the sub-code. The DSID and
version parts vary between AD builds; these are the ones this DC always sends.
See docs/active-directory.md ("Diagnostic messages").

The directory's operations return a `Refusal` (the result code and which of AD's diagnostics);
the wire turns it into the message with `Refusal.message()`.
"""
from __future__ import annotations

from dataclasses import dataclass

SUCCESS, OPERATIONS_ERROR, PROTOCOL_ERROR, TIME_LIMIT, SIZE_LIMIT = 0, 1, 2, 3, 4
ADMIN_LIMIT = 11
COMPARE_FALSE, COMPARE_TRUE, AUTH_METHOD_NOT_SUPPORTED = 5, 6, 7
UNAVAILABLE_CRITICAL_EXTENSION, NO_SUCH_ATTRIBUTE, CONSTRAINT_VIOLATION = 12, 16, 19
NO_SUCH_OBJECT, INVALID_DN_SYNTAX, INVALID_CREDENTIALS = 32, 34, 49
INSUFFICIENT_ACCESS, UNWILLING = 50, 53
SASL_BIND_IN_PROGRESS = 14
RESULT_NAMES = {0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
                4: "sizeLimitExceeded", 11: "adminLimitExceeded",
                5: "compareFalse", 6: "compareTrue", 7: "authMethodNotSupported",
                12: "unavailableCriticalExtension", 14: "saslBindInProgress", 16: "noSuchAttribute",
                19: "constraintViolation",
                32: "noSuchObject", 34: "invalidDNSyntax", 49: "invalidCredentials",
                50: "insufficientAccessRights", 53: "unwillingToPerform"}


def result_name(code: int) -> str:
    return RESULT_NAMES.get(code, str(code))


_V = "v3839"   # the LDAP server build in AD's messages

# AD's diagnostic messages by the problem they report; `{dn}` is the best match or the bad DN,
# `{code}` a bind's sub-code (52e...).
NEED_BIND = "need_bind"
BAD_CREDENTIALS = "bad_credentials"
NO_OBJECT = "no_object"
BAD_DN = "bad_dn"
ACCESS = "access"
CONTROL = "control"
SASL = "sasl"
UNKNOWN_EXTENSION = "unknown_extension"
UNDECODABLE = "undecodable"
BAD_VERSION = "bad_version"
STALE_COOKIE = "stale_cookie"
ATTRIBUTE_CONVERSION = "attribute_conversion"
PASSWORD_NEEDS_TLS = "password_needs_tls"
WILL_NOT_PERFORM = "will_not_perform"
WRONG_OLD_PASSWORD = "wrong_old_password"
PASSWORD_TOO_SHORT = "password_too_short"
QUERY_TIME = "query_time"
FILTER_TOO_COMPLEX = "filter_too_complex"

MESSAGES = {
    NEED_BIND: ("000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation "
                f"a successful bind must be completed on the connection., data 0, {_V}"),
    BAD_CREDENTIALS: "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data {code}, " + _V,
    NO_OBJECT: "0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'{dn}'\n",
    BAD_DN: "00002081: NameErr: DSID-03100225, problem 2003 (BAD_ATT_SYNTAX), data 0, best match of:\n\t'{dn}'\n",
    ACCESS: "00000005: SecErr: DSID-03152870, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n",
    CONTROL: f"00000057: LdapErr: DSID-0C090D0A, comment: Error processing control, data 0, {_V}",
    SASL: ("00002027: LdapErr: DSID-0C0904DC, comment: The server does not support the requested "
           f"SASL mechanism in this lab, data 0, {_V}"),
    UNKNOWN_EXTENSION: f"0000203D: LdapErr: DSID-0C090F7B, comment: Unknown extended request OID, data 0, {_V}",
    UNDECODABLE: f"00000057: LdapErr: DSID-0C090E0B, comment: Error decoding ldap message, data 0, {_V}",
    BAD_VERSION: "00000057: LdapErr: unsupported LDAP version",
    STALE_COOKIE: "00002040: SvcErr: DSID-03100876, problem 5003 (WILL_NOT_PERFORM), data 0\n",
    ATTRIBUTE_CONVERSION: ("00000057: LdapErr: DSID-0C090C3E, comment: Error in attribute conversion "
                           f"operation, data 0, {_V}"),
    PASSWORD_NEEDS_TLS: "00002077: SvcErr: DSID-03190F4C, problem 5003 (WILL_NOT_PERFORM), data 0\n",
    WILL_NOT_PERFORM: "0000209A: SvcErr: DSID-031A1254, problem 5003 (WILL_NOT_PERFORM), data 0\n",
    WRONG_OLD_PASSWORD: ("00000056: AtrErr: DSID-03191083, #1:\n\t0: 00000056: DSID-03191083, problem 1005 "
                         "(CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n"),
    # Win32 8226 ERROR_DS_TIMELIMIT_EXCEEDED and 8228 ERROR_DS_ADMIN_LIMIT_EXCEEDED, with the X.500
    # service problems 5007 and 5008.
    QUERY_TIME: "00002022: SvcErr: DSID-0208044C, problem 5007 (TIME_EXCEEDED), data 0\n",
    FILTER_TOO_COMPLEX: "00002024: SvcErr: DSID-0208044D, problem 5008 (ADMIN_LIMIT_EXCEEDED), data 0\n",
    PASSWORD_TOO_SHORT: ("0000052D: Constraint violation - check_password_restrictions: the password is "
                         "too short. It should be equal or longer than 7 characters!"),
}


def diagnostic(problem: str, *, dn: str = "", code: str = "") -> str:
    """AD's diagnosticMessage for `problem` (one of the names above)."""
    return MESSAGES[problem].replace("{dn}", dn).replace("{code}", code)


@dataclass(frozen=True)
class Refusal:
    """An operation AD would refuse: the result code and which diagnostic it sends."""
    result: int
    problem: str
    dn: str = ""                 # for NO_OBJECT (the best match) and BAD_DN (the DN as sent)

    @property
    def name(self) -> str:
        return result_name(self.result)

    def message(self) -> str:
        return diagnostic(self.problem, dn=self.dn)
