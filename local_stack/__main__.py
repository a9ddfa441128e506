"""`make local`: the application in the foreground on 127.0.0.1:3000, with the finAPI sandbox, until Ctrl-C.

    python -m local_stack [--template template.yaml] [--port 3000] [--finapi-url URL] [--finapi-port 8480]
                          [--integration ACCESS|WEB_FORM] [--webform-port 8481] [--front-end-port 3001]
                          [--param K=V ...] [--wait-scale S]

Without --finapi-url the finAPI sandbox starts too (and, with --integration WEB_FORM, its Web Form 2.0 server) and a
demo user is registered, so the printed curl commands work as they are. The reference front end (frontend/) is served
at the API's root; its "Sign in" button asks the local-only POST /_local/token for a token of the demo user. With
--front-end-port it is served on an origin of its own instead, calling the API across origins (CORS: the stack's
AllowedOrigins names that origin), as a front end hosted apart from the stack does.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

import httpx

from finapi_sandbox import SandboxConfig, SandboxServer
from finapi_sandbox.webform import WebFormConfig, WebFormServer
from local_stack.credentials import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from local_stack.frontend import FrontEnd
from local_stack.stack import LocalStack
from local_stack.template import REGION

DEMO_SUB = "demo-user-sub"
ROOT = Path(__file__).resolve().parents[1]
ISSUER, AUDIENCE = "https://issuer.local", "bank-app-local"


def walkthrough(stack: LocalStack, finapi_url: str, webform_url: str | None, token: str, integration: str) -> str:
    api = stack.api_url
    front_end = f"{stack.front_end_url or api}/"
    auth = '-H "Authorization: Bearer $TOKEN" -H "content-type: application/json"'
    keep_id = "| tee /dev/stderr | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"updateId\"])')"
    head = f"""
Local stack running (Ctrl-C stops everything)
  Front end       {front_end}   (sign in as the demo user there)
  HTTP API        {api}
  finAPI          {finapi_url}{f"  (Web Form 2.0: {webform_url})" if webform_url else ""}
  integration     {integration}
  moto (AWS)      {stack.endpoint}
  demo user       sub={DEMO_SUB} (finAPI user demo-user: connections 1 test bank, 2 redirect bank, 4 no consent)

export TOKEN={token}
# admin routes are IAM (SigV4) signed; the local stack's credentials:
export AWS_ACCESS_KEY_ID={LOCAL_ACCESS_KEY} AWS_SECRET_ACCESS_KEY={LOCAL_SECRET_KEY}
curl -s -X POST {api}/v1/admin/users/{DEMO_SUB}/connections/sync --aws-sigv4 "aws:amz:{REGION}:execute-api" \\
     --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
"""
    if integration == "WEB_FORM":
        return (
            head
            + f"""
# 1. sync now: finAPI's background update task runs (a connection whose bank needs the user shows a web form)
export UPDATE_ID=$(curl -s -X POST {api}/v1/bank-connections/1/updates {auth} -d '{{}}' {keep_id}
# 2. watch it; for a connection that needs the user, open authentication.webFormUrl in a browser
curl -s {api}/v1/updates/$UPDATE_ID -H "Authorization: Bearer $TOKEN"
curl -s {api}/v1/bank-connections/1 -H "Authorization: Bearer $TOKEN"
"""
        )
    return (
        head
        + f"""
# 1. sync now: the test bank asks for a two-step procedure (UPDATE_ID is kept for the next steps)
export UPDATE_ID=$(curl -s -X POST {api}/v1/bank-connections/1/updates {auth} -d '{{"interface":"XS2A",
     "loginCredentials":[{{"label":"Onlinebanking-ID","value":"demo"}},{{"label":"PIN","value":"demo"}}]}}' \\
     {keep_id}
# 2. choose smsTAN, then send the TAN
curl -s -X POST {api}/v1/updates/$UPDATE_ID/authentication {auth} -d '{{"twoStepProcedureId":"901"}}'
curl -s -X POST {api}/v1/updates/$UPDATE_ID/authentication {auth} -d '{{"challengeResponse":"123456"}}'
# 3. watch it finish, then look at the connection's health
curl -s {api}/v1/updates/$UPDATE_ID -H "Authorization: Bearer $TOKEN"
curl -s {api}/v1/bank-connections/1 -H "Authorization: Bearer $TOKEN"
"""
    )


def template_parameters(args: argparse.Namespace, finapi_url: str, webform_url: str | None) -> dict[str, str]:
    parameters = {"FinapiBaseUrl": finapi_url, "JwtIssuer": ISSUER, "JwtAudience": AUDIENCE}
    # The bank sends the user back to the front end's own page (local only: the stack serves it), on the API's origin
    # or on its own (then allowed to call the API across origins).
    page_port = args.front_end_port or args.port
    origins = [f"http://127.0.0.1:{page_port}", f"http://localhost:{page_port}"]
    parameters |= {"Integration": args.integration, "AllowedRedirectUrls": ",".join(f"{o}/" for o in origins)}
    if args.front_end_port:
        parameters["AllowedOrigins"] = ",".join(origins)
    if webform_url is not None:
        parameters["WebFormBaseUrl"] = webform_url
    return parameters | dict(p.split("=", 1) for p in args.param)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--finapi-url", help="an already running finAPI (sandbox); default: start the sandbox")
    parser.add_argument("--finapi-port", type=int, default=8480)
    parser.add_argument("--param", action="append", default=[], help="template parameter override K=V")
    parser.add_argument("--wait-scale", type=float, default=1.0, help="speed up Wait states (0.1 = ten times)")
    parser.add_argument("--integration", choices=["ACCESS", "WEB_FORM"], default="ACCESS")
    parser.add_argument("--webform-port", type=int, default=8481)
    parser.add_argument("--front-end-port", type=int, help="serve the front end on this port, another origin (CORS)")
    args = parser.parse_args()

    sandbox = webform = None
    if args.finapi_url is None:
        sandbox = SandboxServer(SandboxConfig.default(), port=args.finapi_port).start()
        if args.integration == "WEB_FORM":
            # The local HTTP API is plain http on loopback: the Web Form sandbox may call it back there.
            webform = WebFormServer(sandbox, WebFormConfig(allow_http_loopback_urls=True), port=args.webform_port)
            webform.start()
    finapi_url = args.finapi_url or (sandbox.base_url if sandbox else "")
    parameters = template_parameters(args, finapi_url, webform.base_url if webform else None)
    secret = {"clientId": "sandbox-client-id", "clientSecret": "sandbox-client-secret"}
    stack = LocalStack(
        args.template,
        parameter_overrides=parameters,
        api_port=args.port,
        wait_scale=args.wait_scale,
        secrets={"FinapiClientSecret": json.dumps(secret)},
        env_overrides={"POWERTOOLS_TRACE_DISABLED": "true"},
        echo_logs=True,
        front_end=FrontEnd(ROOT / "frontend", DEMO_SUB, port=args.front_end_port),
    ).start()
    api = stack.api_url
    token = stack.issue_token(sub=DEMO_SUB)
    if sandbox is not None:
        # A third connection without consent or PIN: the bank asks for credentials, then for SCA.
        sandbox.world.add_connection("demo-user", consent_expires_at=None)
        url = f"{api}/v1/admin/users/{DEMO_SUB}/finapi-user"
        body = json.dumps({"finapiUsername": "demo-user", "finapiPassword": "demo-password"}).encode()
        headers = stack.admin_headers("PUT", url, body) | {"content-type": "application/json"}
        httpx.put(url, content=body, headers=headers).raise_for_status()
        sync = f"{api}/v1/admin/users/{DEMO_SUB}/connections/sync"
        httpx.post(sync, headers=stack.admin_headers("POST", sync, b"")).raise_for_status()
    print(walkthrough(stack, finapi_url, webform.base_url if webform else None, token, args.integration), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        if webform is not None:
            webform.stop()
        if sandbox is not None:
            sandbox.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
