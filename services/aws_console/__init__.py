"""The AWS Management Console, emulated: pages for Directory Service and WorkSpaces that call the
lab's AWS APIs with SigV4 through boto3, as a person's browser session calls AWS."""
