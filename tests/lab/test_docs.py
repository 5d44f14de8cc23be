"""The docs point only inside the repository: no relative link out of it, no path of the machine
the lab was written on, and every picture the README shows exists."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_no_link_or_path_outside_the_repository():
    for doc in DOCS:
        text = doc.read_text()
        for bad in (r"(?<![.\w])\.\./", r"/work/", r"(?<![\w/])spec/", r"\bDESIGN\b"):   # `.../x` is an ellipsis
            assert not re.search(bad, text), f"{doc.name} points outside the repository: {bad!r}"
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith(("http://", "https://")):
                assert (doc.parent / target).exists(), f"{doc.name} links to a missing {target}"


def test_the_readmes_pictures_exist():
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert "docs/images/signin-push.svg" in pictures
    assert all((ROOT / p).exists() for p in pictures)
