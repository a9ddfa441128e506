"""`python -m finapi_sandbox [--host H] [--port P] [--scenario FILE] [--webform-port P [--webform-config FILE]]`.

Serves the Access sandbox until Ctrl-C; with `--webform-port` also the Web Form 2.0 simulator on that port (0 picks a
free one), sharing the Access sandbox's users, tokens, connections and clock.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from finapi_sandbox.config import SandboxConfig
from finapi_sandbox.server import SandboxServer
from finapi_sandbox.webform import WebFormConfig, WebFormServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8480, help="0 picks a free port")
    parser.add_argument("--scenario", help="JSON scenario file (see finapi_sandbox/scenarios/)")
    parser.add_argument("--webform-port", type=int, help="also serve Web Form 2.0 on this port (0 picks a free port)")
    parser.add_argument(
        "--webform-config", help="JSON file with WebFormConfig fields (finapi_sandbox/webform/config.py)"
    )
    args = parser.parse_args()
    config = SandboxConfig.from_file(args.scenario) if args.scenario else SandboxConfig.default()
    server = SandboxServer(config, host=args.host, port=args.port)
    print(f"finAPI sandbox listening on {server.base_url} (client {config.client_id})", flush=True)
    with contextlib.ExitStack() as running:
        if args.webform_port is not None:
            webform_config = (
                WebFormConfig.model_validate_json(Path(args.webform_config).read_text())
                if args.webform_config
                else WebFormConfig()
            )
            webform = running.enter_context(
                WebFormServer(server, webform_config, host=args.host, port=args.webform_port)
            )
            print(f"finAPI Web Form 2.0 listening on {webform.base_url}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", flush=True)


if __name__ == "__main__":
    main()
