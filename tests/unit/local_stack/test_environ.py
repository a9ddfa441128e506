"""Each invocation's thread sees its own function's environment; other threads see the process's."""

from __future__ import annotations

import threading

from local_stack.environ import PerInvocationEnviron


def test_an_invocation_sees_its_own_variables_and_none_that_only_other_functions_define() -> None:
    # Given a process environment in which the last invocation of another function left its variables
    process = {"AWS_REGION": "eu-central-1", "AWS_LAMBDA_FUNCTION_NAME": "other", "OTHER_ONLY": "x"}
    environ = PerInvocationEnviron(process)
    others = frozenset({"AWS_LAMBDA_FUNCTION_NAME", "OTHER_ONLY", "MINE"})
    # When a function's invocation reads the environment on its thread
    with environ.of_function({"AWS_LAMBDA_FUNCTION_NAME": "mine", "MINE": "1"}, others):
        seen = dict(environ)
        name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
    # Then it sees its own variables and the process's shared ones, not the other function's
    assert name == "mine"
    assert seen == {"AWS_LAMBDA_FUNCTION_NAME": "mine", "MINE": "1", "AWS_REGION": "eu-central-1"}


def test_writes_inside_an_invocation_stay_in_it_and_other_threads_see_the_process() -> None:
    # Given an invocation running on another thread
    process = {"AWS_REGION": "eu-central-1"}
    environ = PerInvocationEnviron(process)
    inside: dict[str, str | None] = {}

    def invocation() -> None:
        with environ.of_function({"AWS_LAMBDA_FUNCTION_NAME": "mine"}, frozenset({"AWS_LAMBDA_FUNCTION_NAME"})):
            environ["SET_BY_HANDLER"] = "1"
            inside["name"] = environ.get("AWS_LAMBDA_FUNCTION_NAME")
            inside["set"] = environ.get("SET_BY_HANDLER")

    thread = threading.Thread(target=invocation)
    thread.start()
    thread.join()
    # Then the invocation saw its name and its own write, and the process environment is unchanged
    assert inside == {"name": "mine", "set": "1"}
    assert dict(environ) == {"AWS_REGION": "eu-central-1"} and process == {"AWS_REGION": "eu-central-1"}
