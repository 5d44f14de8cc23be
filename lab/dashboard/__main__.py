"""`python -m lab.dashboard --state-dir DIR --host H --port P [--roster CLASS_DIR]`: the dashboard
process (lifecycle.py starts it detached; this is its foreground)."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from .app import make_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.dashboard", description=__doc__)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--roster", type=Path, help="a class's state directory: one tile per trainee")
    args = parser.parse_args()
    os.umask(0o077)       # its runs' reports and narration files are the lab owner's alone
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [dashboard] %(levelname)s %(name)s: %(message)s")
    app = make_app(args.state_dir.resolve(), args.roster.resolve() if args.roster else None)
    # No access log: the sign-in link's one-time ticket is in a URL. The open event streams never
    # end by themselves: on SIGTERM they get one second, so `lab down` does not wait on a browser.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
