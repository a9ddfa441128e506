"""IAM as AWS evaluates it, for the calls the local stack sees: each function, state machine, schedule and event
source acts with its own role from the translated template, and what AWS services do with the caller's permissions
(DynamoDB, Secrets Manager and SQS on a KMS key) is authorized as AWS does."""
