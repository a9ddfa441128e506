"""Adapters to AWS services. The only package (besides ``finapi``) that talks to the outside world."""
