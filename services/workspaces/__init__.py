"""Amazon WorkSpaces: registered directories, WorkSpaces, and the client's sign-in."""
