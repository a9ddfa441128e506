"""Pure domain logic. Nothing in this package performs I/O or imports boto3/httpx."""
