"""The local stack's one set of AWS credentials (moto's well-known test keys): the handlers' boto3 signs with them,
and the HTTP API's stand-in for AWS_IAM accepts requests signed with them."""

LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"  # noqa: S105 - moto's well-known local credentials
