"""`python -m finapi_sandbox [--host H] [--port P] [--scenario FILE]`: serve the sandbox until Ctrl-C."""

from __future__ import annotations

import argparse

from finapi_sandbox.config import SandboxConfig
from finapi_sandbox.server import SandboxServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8480, help="0 picks a free port")
    parser.add_argument("--scenario", help="JSON scenario file (see finapi_sandbox/scenarios/)")
    args = parser.parse_args()
    config = SandboxConfig.from_file(args.scenario) if args.scenario else SandboxConfig.default()
    server = SandboxServer(config, host=args.host, port=args.port)
    print(f"finAPI sandbox listening on {server.base_url} (client {config.client_id})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
