"""moto in server mode on a free loopback port, and the process pointed at it: the handlers' boto3 (through
``AWS_ENDPOINT_URL``), moto's own Step Functions interpreter (through ``MOTO_PORT``) and the stack's clients."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from local_stack.credentials import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from local_stack.template import REGION


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoServer:
    def __init__(self) -> None:
        self.endpoint = ""
        self._server: ThreadedMotoServer | None = None
        self._saved_env: dict[str, str | None] = {}

    def start(self) -> None:
        port = _free_port()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request drowns everything else
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        endpoint = f"http://127.0.0.1:{port}"
        # moto's interpreter calls Lambda at localhost:$MOTO_PORT; the handlers' boto3 follows AWS_ENDPOINT_URL.
        self._set_env(
            {
                "MOTO_PORT": str(port),
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        # moto's backends live in the process, not in the server: a second stack would see the first one's state.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        requests.post(f"{endpoint}/moto-api/config", json=config, timeout=10).raise_for_status()
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_SECRET_KEY,
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def restore_env(self) -> None:
        """The process's environment as it was before start()."""
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
