"""What the WorkSpaces client shows, word for word (docs/aws.md, "Amazon WorkSpaces")."""

AUTH_FAILED = ("Authentication Failed: Please check your username and password to make sure you "
               "typed them correctly")
REGISTRATION_UNREACHABLE = "Device can't connect to the registration service. Check your network settings."
UNHEALTHY = ("WorkSpace Status: Unhealthy. We were unable to connect you to your WorkSpace. "
             "Please try again in a few minutes.")
DIRECTORY_UNAVAILABLE = "Directory Unavailable"
# No published string exists for "authenticated, but this user has no WorkSpace"; lab wording.
NO_WORKSPACE = "Unable to connect: no WorkSpace is assigned to this user."
# A sign-in from a device type the directory's access control options deny. AWS publishes no
# wording for it; lab wording, in the client's style.
DEVICE_DENIED = ("This OS/platform is not authorized to access your WorkSpace. "
                 "Contact your administrator for more information.")
