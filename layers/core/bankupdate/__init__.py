"""Core package of the finAPI bank-connection update service, shipped to every function as a Lambda layer.

Layering (imports only point downwards):

* ``domain``     pure logic: update lifecycle, backoff, budget, error catalogue (no boto3, no httpx)
* ``finapi``     the finAPI client (httpx) and its pydantic models
* ``stores``     DynamoDB, KMS, Secrets Manager, Step Functions, EventBridge adapters (boto3 stays here)
* ``usecases``   one module per use case, composing domain + adapters
* ``api``        request/response models and the HTTP resolver shared by the HTTP functions
"""
