"""The little of AD's schema the emulator needs: each attribute's syntax, for matching.

AD compares Unicode/directory strings case-insensitively, integers numerically, DNs by their
normalised form and binary values (objectSid, objectGUID) byte for byte. Attributes absent from
these sets are directory strings. Constructed attributes are computed on read and, as in AD, only
returned when asked for by name (never for `*`).
"""
from __future__ import annotations

INTEGER = {
    "useraccountcontrol", "badpwdcount", "pwdlastset", "accountexpires", "lockouttime",
    "badpasswordtime", "lastlogon", "lastlogontimestamp", "logoncount", "primarygroupid",
    "grouptype", "samaccounttype", "instancetype", "usncreated", "usnchanged",
    "msds-user-account-control-computed", "lockoutthreshold", "lockoutduration",
    "lockoutobservationwindow", "maxpwdage", "minpwdage", "minpwdlength", "pwdproperties",
    "pwdhistorylength", "msds-behavior-version", "systemflags", "admincount", "codepage",
    "countrycode", "supportedldapversion", "highestcommittedusn", "domainfunctionality",
    "forestfunctionality", "domaincontrollerfunctionality",
}
DN = {
    "distinguishedname", "member", "memberof", "objectcategory", "manager", "managedby",
    "defaultnamingcontext", "rootdomainnamingcontext", "schemanamingcontext",
    "configurationnamingcontext", "namingcontexts", "servername", "dsservicename",
}
BINARY = {"objectsid", "objectguid", "unicodepwd", "nTSecurityDescriptor".lower(), "tokengroups"}
CONSTRUCTED = {"msds-user-account-control-computed", "tokengroups", "canonicalname",
               "allowedattributes", "createtimestamp", "modifytimestamp"}
# Never returned, whatever is asked (AD: unicodePwd is write-only).
HIDDEN = {"unicodepwd", "userpassword"}

# Short names AD accepts for objectCategory in a filter, mapped to the category object's CN.
CATEGORY_ALIASES = {
    "person": "Person", "user": "Person", "group": "Group", "computer": "Computer",
    "organizationalunit": "Organizational-Unit", "domain": "Domain-DNS",
    "domaindns": "Domain-DNS", "container": "Container",
}

# sAMAccountType and groupType values AD writes (the userAccountControl bits are in
# services/common/ad_wire.py).
SAM_USER_OBJECT = 805306368
SAM_GROUP_OBJECT = 268435456
GROUP_GLOBAL_SECURITY = -2147483646
